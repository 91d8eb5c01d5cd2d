import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'
import { formatRows } from '../../output/template.ts'
import { filterFlags } from '../kv.ts'

export const volumeLsCommand: Command = {
  name: 'ls',
  group: 'volume',
  topLevel: false,
  usage: 'cais volume ls [OPTIONS]',
  description: 'List volumes',
  flags: [{ name: 'quiet', short: 'q', type: 'bool' }, { name: 'filter', short: 'f', type: 'list' }, { name: 'format', type: 'string' }],
  maxArgs: 0,
  async run(client, p, io) {
    const { Volumes } = await client.volumes.list({ filters: filterFlags(list(p, 'filter')) })
    const vols = Volumes.sort((a, b) => a.Name.localeCompare(b.Name))
    if (bool(p, 'quiet')) {
      for (const v of vols) io.out(v.Name)
      return 0
    }
    const format = str(p, 'format')
    if (format === 'json') {
      for (const v of vols) io.out(JSON.stringify(v))
      return 0
    }
    if (format) {
      const headers = { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE' }
      const rows = vols.map((v) => ({ ...v, Labels: Object.entries(v.Labels ?? {}).map(([k, x]) => `${k}=${x}`).join(','), Links: 'N/A', Size: 'N/A' }))
      for (const line of formatRows(format, rows, headers, 'formatter.volumeContext')) io.out(line)
      return 0
    }
    for (const line of renderTable([['DRIVER', 'VOLUME NAME'], ...vols.map((v) => [v.Driver, v.Name])])) io.out(line)
    return 0
  },
}
