import type { Command } from '../../command.ts'
import { bool, str } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'
import { formatRows } from '../../output/template.ts'
import { humanDuration } from '../../../lib/time.ts'

export const nodeLsCommand: Command = {
  name: 'ls',
  group: 'node',
  groupAlias: 'list',
  topLevel: false,
  usage: 'cais node ls [OPTIONS]',
  description: 'List the nodes of the cluster store',
  flags: [{ name: 'quiet', short: 'q', type: 'bool' }, { name: 'format', type: 'string' }],
  maxArgs: 0,
  async run(client, p, io) {
    const [nodes, info] = await Promise.all([client.nodes.list(), client.system.info()])
    if (bool(p, 'quiet')) {
      for (const n of nodes) io.out(n.ID)
      return 0
    }
    const rows = nodes.map((n) => ({
      ID: n.ID,
      Self: n.ID === info.ID,
      Hostname: n.Description.Hostname,
      Address: n.Status.Addr,
      Status: n.Status.State === 'ready' ? 'Ready' : n.Status.State,
      LastSeen: n.UpdatedAt,
      EngineVersion: n.Description.Engine.EngineVersion,
    }))
    const format = str(p, 'format')
    if (format === 'json') {
      for (const n of nodes) io.out(JSON.stringify(n))
      return 0
    }
    if (format) {
      const headers = { ID: 'ID', Self: 'SELF', Hostname: 'HOSTNAME', Address: 'ADDRESS', Status: 'STATUS', LastSeen: 'LAST SEEN', EngineVersion: 'ENGINE VERSION' }
      for (const line of formatRows(format, rows, headers, 'formatter.nodeContext')) io.out(line)
      return 0
    }
    const table = rows.map((r) => [`${r.ID}${r.Self ? ' *' : ''}`, r.Hostname, r.Address, r.Status, `${humanDuration(Date.now() - Date.parse(r.LastSeen))} ago`, r.EngineVersion])
    for (const line of renderTable([['ID', 'HOSTNAME', 'ADDRESS', 'STATUS', 'LAST SEEN', 'ENGINE VERSION'], ...table])) io.out(line)
    return 0
  },
}
