import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'
import { humanSize } from '../../../lib/size.ts'
import { filterFlags } from '../kv.ts'

export const builderPruneCommand: Command = {
  name: 'prune',
  group: 'builder',
  topLevel: false,
  usage: 'cais builder prune [OPTIONS]',
  description: 'Remove build cache',
  flags: [
    { name: 'all', short: 'a', type: 'bool' },
    { name: 'filter', type: 'list' },
    { name: 'force', short: 'f', type: 'bool' },
    { name: 'keep-storage', type: 'string' },
  ],
  maxArgs: 0,
  async run(client, p, io) {
    if (!bool(p, 'force')) {
      io.err('cais builder prune removes the build cache without asking only with --force (-f)')
      return 1
    }
    const keep = str(p, 'keep-storage')
    const keepBytes = keep === undefined ? undefined : parseBytes(keep)
    const r = await client.images.pruneBuildCache({ all: bool(p, 'all'), filters: filterFlags(list(p, 'filter')), keepStorage: keepBytes })
    if (r.CachesDeleted?.length) {
      io.out('Deleted build cache objects:')
      for (const id of r.CachesDeleted) io.out(id)
      io.out('')
    }
    io.out(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`)
    return 0
  },
}

function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim())
  if (!m) throw new Error(`invalid argument "${text}" for "--keep-storage" flag`)
  const unit = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't']
  return Math.round(Number(m[1]) * unit)
}
