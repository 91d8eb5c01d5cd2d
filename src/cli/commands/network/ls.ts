import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'
import { formatRows } from '../../output/template.ts'
import { filterFlags } from '../kv.ts'

export const networkLsCommand: Command = {
  name: 'ls',
  group: 'network',
  groupAlias: 'list',
  topLevel: false,
  usage: 'cais network ls [OPTIONS]',
  description: 'List networks',
  flags: [
    { name: 'quiet', short: 'q', type: 'bool' },
    { name: 'filter', short: 'f', type: 'list' },
    { name: 'format', type: 'string' },
    { name: 'no-trunc', type: 'bool' },
  ],
  maxArgs: 0,
  async run(client, p, io) {
    const networks = (await client.networks.list({ filters: filterFlags(list(p, 'filter')) })).sort((a, b) => a.Name.localeCompare(b.Name))
    const id = (x: string): string => (bool(p, 'no-trunc') ? x : x.slice(0, 12))
    if (bool(p, 'quiet')) {
      for (const n of networks) io.out(id(n.Id))
      return 0
    }
    const rows = networks.map((n) => ({ ID: id(n.Id), Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: String(n.Internal), IPv6: String(n.EnableIPv6), CreatedAt: n.Created }))
    const format = str(p, 'format')
    if (format === 'json') {
      for (const r of rows) io.out(JSON.stringify(r))
      return 0
    }
    if (format) {
      const headers = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', Internal: 'INTERNAL', IPv6: 'IPV6', CreatedAt: 'CREATED AT', Labels: 'LABELS' }
      for (const line of formatRows(format, rows, headers, 'formatter.networkContext')) io.out(line)
      return 0
    }
    for (const line of renderTable([['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], ...rows.map((r) => [r.ID, r.Name, r.Driver, r.Scope])])) io.out(line)
    return 0
  },
}
