import type { Command } from '../../command.ts'
import { bool, list } from '../../flags.ts'
import { humanSize } from '../../../lib/size.ts'
import { filterFlags } from '../kv.ts'

export const imagePruneCommand: Command = {
  name: 'prune',
  group: 'image',
  topLevel: false,
  usage: 'cais image prune [OPTIONS]',
  description: 'Remove unused images',
  flags: [{ name: 'all', short: 'a', type: 'bool' }, { name: 'filter', type: 'list' }, { name: 'force', short: 'f', type: 'bool' }],
  maxArgs: 0,
  async run(client, p, io) {
    if (!bool(p, 'force')) {
      io.err('cais image prune removes images without asking only with --force (-f)')
      return 1
    }
    const filters = filterFlags(list(p, 'filter'))
    if (bool(p, 'all')) filters['dangling'] = ['false']
    const r = await client.images.prune({ filters })
    if (r.ImagesDeleted?.length) {
      io.out('Deleted Images:')
      for (const item of r.ImagesDeleted) {
        if (item.Untagged) io.out(`untagged: ${item.Untagged}`)
        if (item.Deleted) io.out(`deleted: ${item.Deleted}`)
      }
      io.out('')
    }
    io.out(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`)
    return 0
  },
}
