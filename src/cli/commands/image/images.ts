import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'
import { formatRows } from '../../output/template.ts'
import { humanDuration } from '../../../lib/time.ts'
import { humanSize } from '../../../lib/size.ts'
import { filterFlags } from '../kv.ts'

export const imagesCommand: Command = {
  name: 'images',
  group: 'image',
  groupAlias: 'ls',
  usage: 'cais images [OPTIONS] [REPOSITORY[:TAG]]',
  description: 'List images',
  flags: [
    { name: 'all', short: 'a', type: 'bool' },
    { name: 'quiet', short: 'q', type: 'bool' },
    { name: 'filter', short: 'f', type: 'list' },
    { name: 'format', type: 'string' },
    { name: 'no-trunc', type: 'bool' },
    { name: 'digests', type: 'bool' },
  ],
  maxArgs: 1,
  async run(client, p, io) {
    const filters = filterFlags(list(p, 'filter'))
    if (p.args[0]) (filters['reference'] ??= []).push(p.args[0])
    const images = await client.images.list({ all: bool(p, 'all'), filters })
    const trunc = !bool(p, 'no-trunc')
    const rows: Array<Record<string, string>> = []
    for (const img of images) {
      const id = trunc ? img.Id.replace(/^sha256:/, '').slice(0, 12) : img.Id
      const tags = img.RepoTags.length > 0 ? img.RepoTags : ['<none>:<none>']
      for (const t of tags) {
        const colon = t.lastIndexOf(':')
        rows.push({
          ID: id,
          Repository: t.slice(0, colon),
          Tag: t.slice(colon + 1),
          Digest: img.RepoDigests[0]?.split('@')[1] ?? '<none>',
          CreatedSince: `${humanDuration(Date.now() - img.Created * 1000)} ago`,
          CreatedAt: new Date(img.Created * 1000).toISOString(),
          Size: humanSize(img.Size),
        })
      }
    }
    if (bool(p, 'quiet')) {
      for (const id of new Set(rows.map((r) => r.ID))) io.out(id!)
      return 0
    }
    const format = str(p, 'format')
    if (format === 'json') {
      for (const r of rows) io.out(JSON.stringify(r))
      return 0
    }
    if (format) {
      const headers = { ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE' }
      for (const line of formatRows(format, rows, headers, 'formatter.imageContext')) io.out(line)
      return 0
    }
    const table = [['REPOSITORY', 'TAG', ...(bool(p, 'digests') ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE']]
    for (const r of rows) table.push([r.Repository!, r.Tag!, ...(bool(p, 'digests') ? [r.Digest!] : []), r.ID!, r.CreatedSince!, r.Size!])
    for (const line of renderTable(table)) io.out(line)
    return 0
  },
}
