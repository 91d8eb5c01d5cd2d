import type { ContainerSummary } from '../../../wire/types.ts'
import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'
import { formatRows } from '../../output/template.ts'
import { humanDuration } from '../../../lib/time.ts'
import { humanSize } from '../../../lib/size.ts'
import { filterFlags } from '../kv.ts'

const defaultTable = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}'
const headers: Record<string, string> = {
  ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', RunningFor: 'CREATED', CreatedAt: 'CREATED AT', Status: 'STATUS',
  Ports: 'PORTS', Names: 'NAMES', State: 'STATE', Labels: 'LABELS', Size: 'SIZE', Mounts: 'MOUNTS', Networks: 'NETWORKS',
}

/** The fields `docker ps --format` knows, computed from a summary. */
export function psRow(c: ContainerSummary, truncate: boolean): Record<string, string> {
  let command = c.Command
  if (truncate && [...command].length > 20) command = [...command].slice(0, 19).join('') + '…'
  return {
    ID: truncate ? c.Id.slice(0, 12) : c.Id,
    Image: c.Image,
    Command: JSON.stringify(command),
    CreatedAt: new Date(c.Created * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC'),
    RunningFor: `${humanDuration(Date.now() - c.Created * 1000)} ago`,
    Ports: c.Ports.map((p) => (p.PublicPort ? `${p.IP ?? '0.0.0.0'}:${p.PublicPort}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`)).join(', '),
    State: c.State,
    Status: c.Status,
    Size: c.SizeRw === undefined ? '0B' : `${humanSize(c.SizeRw)} (virtual ${humanSize(c.SizeRootFs ?? 0)})`,
    Names: c.Names.map((n) => n.slice(1)).filter((n) => !n.includes('/')).join(','),
    Labels: Object.entries(c.Labels).map(([k, v]) => `${k}=${v}`).join(','),
    Mounts: '',
    Networks: Object.keys(c.NetworkSettings.Networks).join(','),
    LocalVolumes: '0',
  }
}

export const psCommand: Command = {
  name: 'ps',
  group: 'container',
  groupAlias: 'ls',
  usage: 'cais ps [OPTIONS]',
  description: 'List containers',
  flags: [
    { name: 'all', short: 'a', type: 'bool' },
    { name: 'quiet', short: 'q', type: 'bool' },
    { name: 'filter', short: 'f', type: 'list' },
    { name: 'format', type: 'string' },
    { name: 'no-trunc', type: 'bool' },
    { name: 'last', short: 'n', type: 'string' },
    { name: 'latest', short: 'l', type: 'bool' },
    { name: 'size', short: 's', type: 'bool' },
  ],
  maxArgs: 0,
  async run(client, p, io) {
    const filters = filterFlags(list(p, 'filter'))
    const last = bool(p, 'latest') ? 1 : Number(str(p, 'last') ?? 0)
    const size = bool(p, 'size')
    const containers = await client.containers.list({ all: bool(p, 'all'), filters, size, ...(last > 0 ? { limit: last } : {}) })
    const truncate = !bool(p, 'no-trunc')
    if (bool(p, 'quiet')) {
      for (const c of containers) io.out(truncate ? c.Id.slice(0, 12) : c.Id)
      return 0
    }
    const format = str(p, 'format') ?? 'table'
    if (format === 'json') {
      for (const c of containers) io.out(JSON.stringify(psRow(c, truncate)))
      return 0
    }
    const table = size ? `${defaultTable}\t{{.Size}}` : defaultTable
    for (const line of formatRows(format === 'table' ? table : format, containers.map((c) => psRow(c, truncate)), headers, 'formatter.ContainerContext')) io.out(line)
    return 0
  },
}
