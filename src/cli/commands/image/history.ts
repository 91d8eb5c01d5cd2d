import type { Command } from '../../command.ts'
import { bool, str } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'
import { formatRows } from '../../output/template.ts'
import { humanDuration } from '../../../lib/time.ts'
import { humanSize } from '../../../lib/size.ts'

export const historyCommand: Command = {
  name: 'history',
  group: 'image',
  usage: 'cais history [OPTIONS] IMAGE',
  description: 'Show the history of an image',
  flags: [
    { name: 'format', type: 'string' },
    { name: 'human', short: 'H', type: 'bool' },
    { name: 'no-trunc', type: 'bool' },
    { name: 'quiet', short: 'q', type: 'bool' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(client, p, io) {
    const items = await client.images.history(p.args[0]!)
    const trunc = !bool(p, 'no-trunc')
    const human = p.flags.get('human') !== false
    const rows = items.map((h) => {
      const createdBy = h.CreatedBy.replaceAll('\t', ' ')
      return {
        ID: trunc && h.Id.startsWith('sha256:') ? h.Id.slice(7, 19) : h.Id,
        CreatedSince: human ? `${humanDuration(Date.now() - h.Created * 1000)} ago` : new Date(h.Created * 1000).toISOString(),
        CreatedAt: new Date(h.Created * 1000).toISOString(),
        CreatedBy: trunc && createdBy.length > 45 ? `${createdBy.slice(0, 44)}…` : createdBy,
        Size: human ? humanSize(h.Size) : String(h.Size),
        Comment: h.Comment,
      }
    })
    if (bool(p, 'quiet')) {
      for (const r of rows) io.out(r.ID)
      return 0
    }
    const format = str(p, 'format')
    if (format === 'json') {
      for (const r of rows) io.out(JSON.stringify(r))
      return 0
    }
    if (format) {
      const headers = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' }
      for (const line of formatRows(format, rows, headers, 'formatter.historyContext')) io.out(line)
      return 0
    }
    const table = [['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], ...rows.map((r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment])]
    for (const line of renderTable(table)) io.out(line)
    return 0
  },
}
