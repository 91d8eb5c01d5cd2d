import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'
import { renderTemplate } from '../../output/template.ts'
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
    if (format) {
      for (const v of vols) io.out(format === 'json' ? JSON.stringify(v) : renderTemplate(format, v))
      return 0
    }
    for (const line of renderTable([['DRIVER', 'VOLUME NAME'], ...vols.map((v) => [v.Driver, v.Name])])) io.out(line)
    return 0
  },
}
