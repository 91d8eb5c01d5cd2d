import type { Command } from '../../command.ts'
import { str } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'

export const searchCommand: Command = {
  name: 'search',
  group: 'none',
  usage: 'cais search [OPTIONS] TERM',
  description: 'Search registries for images',
  flags: [{ name: 'limit', type: 'string' }, { name: 'no-trunc', type: 'bool' }],
  minArgs: 1,
  maxArgs: 1,
  async run(client, p, io) {
    const limit = str(p, 'limit')
    if (limit !== undefined && !/^\d+$/.test(limit)) throw new Error(`invalid argument "${limit}" for "--limit" flag: strconv.ParseInt: parsing "${limit}": invalid syntax`)
    const results = await client.images.search(p.args[0]!, { limit: limit === undefined ? undefined : Number(limit) })
    const rows = results.map((r) => [r.name, r.description.length > 45 ? `${r.description.slice(0, 44)}…` : r.description, String(r.star_count), r.is_official ? '[OK]' : ''])
    for (const line of renderTable([['NAME', 'DESCRIPTION', 'STARS', 'OFFICIAL'], ...rows])) io.out(line)
    return 0
  },
}
