import type { EngineClient } from '../../../client/engine-client.ts'
import type { StatsSample } from '../../../wire/types.ts'
import type { Command } from '../../command.ts'
import { bool, str } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'
import { formatRows } from '../../output/template.ts'
import { humanSize } from '../../../lib/size.ts'

/** go-units BytesSize: binary units, as the MEM USAGE / LIMIT column prints them ("1.5MiB"). */
function binarySize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${Number(v.toFixed(2))}${units[i]}`
}

/** One row of `docker stats`, computed as the docker CLI does (cgroup v1: cache-free memory usage). */
export function statsRow(s: StatsSample): Record<string, string> {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage
  const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0)
  const online = s.cpu_stats.online_cpus ?? 1
  const cpu = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0
  const stats = s.memory_stats.stats ?? {}
  const usage = Math.max(0, (s.memory_stats.usage ?? 0) - (stats['total_inactive_file'] ?? stats['inactive_file'] ?? 0))
  const limit = s.memory_stats.limit ?? 0
  const rx = Object.values(s.networks ?? {}).reduce((a, n) => a + n.rx_bytes, 0)
  const tx = Object.values(s.networks ?? {}).reduce((a, n) => a + n.tx_bytes, 0)
  const io = s.blkio_stats.io_service_bytes_recursive ?? []
  const read = io.filter((e) => e.op === 'read').reduce((a, e) => a + e.value, 0)
  const write = io.filter((e) => e.op === 'write').reduce((a, e) => a + e.value, 0)
  return {
    ID: s.id.slice(0, 12),
    Container: s.id.slice(0, 12),
    Name: s.name.replace(/^\//, ''),
    CPUPerc: `${cpu.toFixed(2)}%`,
    MemUsage: `${binarySize(usage)} / ${binarySize(limit)}`,
    MemPerc: `${limit > 0 ? ((usage / limit) * 100).toFixed(2) : '0.00'}%`,
    NetIO: `${humanSize(rx)} / ${humanSize(tx)}`,
    BlockIO: `${humanSize(read)} / ${humanSize(write)}`,
    PIDs: String(s.pids_stats.current ?? 0),
  }
}

async function sampleAll(client: EngineClient, ids: string[]): Promise<Array<Record<string, string>>> {
  const rows = await Promise.all(
    ids.map(async (id) => {
      for await (const s of await client.containers.stats(id, { stream: false })) return statsRow(s)
      return undefined
    }),
  )
  return rows.filter((r): r is Record<string, string> => r !== undefined)
}

export const statsCommand: Command = {
  name: 'stats',
  group: 'container',
  usage: 'cais stats [OPTIONS] [CONTAINER...]',
  description: 'Display a live stream of container(s) resource usage statistics',
  flags: [{ name: 'all', short: 'a', type: 'bool' }, { name: 'no-stream', type: 'bool' }, { name: 'no-trunc', type: 'bool' }, { name: 'format', type: 'string' }],
  async run(client, p, io) {
    const named = p.args.length > 0
    const ids = named ? await Promise.all(p.args.map(async (r) => (await client.containers.inspect(r)).Id)) : (await client.containers.list({ all: bool(p, 'all') })).map((c) => c.Id)
    const render = (rows: Array<Record<string, string>>): string[] => {
      const format = str(p, 'format')
      if (format === 'json') return rows.map((r) => JSON.stringify(r))
      if (format) {
        const headers = { ID: 'CONTAINER ID', Container: 'CONTAINER', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' }
        return formatRows(format, rows, headers, 'formatter.statsContext')
      }
      return renderTable([
        ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'],
        ...rows.map((r) => [r['ID']!, r['Name']!, r['CPUPerc']!, r['MemUsage']!, r['MemPerc']!, r['NetIO']!, r['BlockIO']!, r['PIDs']!]),
      ])
    }
    if (bool(p, 'no-stream')) {
      for (const line of render(await sampleAll(client, ids))) io.out(line)
      return 0
    }
    for (;;) {
      const lines = render(await sampleAll(client, ids))
      io.stdout.write(`\x1b[2J\x1b[H${lines.join('\n')}\n`)
    }
  },
}
