import type { Command } from '../../command.ts'
import { bool, list } from '../../flags.ts'
import { humanSize } from '../../../lib/size.ts'
import { filterFlags } from '../kv.ts'

export const volumePruneCommand: Command = {
  name: 'prune',
  group: 'volume',
  topLevel: false,
  usage: 'cais volume prune [OPTIONS]',
  description: 'Remove unused local volumes',
  flags: [{ name: 'all', short: 'a', type: 'bool' }, { name: 'filter', type: 'list' }, { name: 'force', short: 'f', type: 'bool' }],
  maxArgs: 0,
  async run(client, p, io) {
    if (!bool(p, 'force')) {
      io.err('cais volume prune removes unused volumes without asking only with --force (-f)')
      return 1
    }
    const filters = filterFlags(list(p, 'filter'))
    if (bool(p, 'all')) filters['all'] = ['true']
    const r = await client.volumes.prune({ filters })
    if (r.VolumesDeleted?.length) {
      io.out('Deleted Volumes:')
      for (const v of r.VolumesDeleted) io.out(v)
      io.out('')
    }
    io.out(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`)
    return 0
  },
}
