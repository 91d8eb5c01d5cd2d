import type { Command } from '../../command.ts'
import { bool, list } from '../../flags.ts'
import { filterFlags } from '../kv.ts'

export const networkPruneCommand: Command = {
  name: 'prune',
  group: 'network',
  topLevel: false,
  usage: 'cais network prune [OPTIONS]',
  description: 'Remove all unused networks',
  flags: [{ name: 'filter', type: 'list' }, { name: 'force', short: 'f', type: 'bool' }],
  maxArgs: 0,
  async run(client, p, io) {
    if (!bool(p, 'force')) {
      io.err('cais network prune removes unused networks without asking only with --force (-f)')
      return 1
    }
    const r = await client.networks.prune({ filters: filterFlags(list(p, 'filter')) })
    if (r.NetworksDeleted?.length) {
      io.out('Deleted Networks:')
      for (const n of r.NetworksDeleted) io.out(n)
    }
    return 0
  },
}
