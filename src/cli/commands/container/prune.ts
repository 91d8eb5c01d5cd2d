import type { Command } from '../../command.ts'
import { bool, list } from '../../flags.ts'
import { humanSize } from '../../../lib/size.ts'
import { filterFlags } from '../kv.ts'

export const containerPruneCommand: Command = {
  name: 'prune',
  group: 'container',
  topLevel: false,
  usage: 'cais container prune [OPTIONS]',
  description: 'Remove all stopped containers',
  flags: [{ name: 'filter', type: 'list' }, { name: 'force', short: 'f', type: 'bool' }],
  maxArgs: 0,
  async run(client, p, io) {
    if (!bool(p, 'force')) {
      io.err('cais container prune removes stopped containers without asking only with --force (-f)')
      return 1
    }
    const r = await client.containers.prune({ filters: filterFlags(list(p, 'filter')) })
    if (r.ContainersDeleted?.length) {
      io.out('Deleted Containers:')
      for (const id of r.ContainersDeleted) io.out(id)
      io.out('')
    }
    io.out(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`)
    return 0
  },
}
