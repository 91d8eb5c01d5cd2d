import type { EngineClient } from '../../../client/engine-client.ts'
import { statsFigures } from '../../../client/stats-figures.ts'
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
  const f = statsFigures(s)
  return {
    ID: s.id.slice(0, 12),
    Container: s.id.slice(0, 12),
    Name: s.name.replace(/^\//, ''),
    CPUPerc: `${f.cpuPercent.toFixed(2)}%`,
    MemUsage: `${binarySize(f.memoryUsage)} / ${binarySize(f.memoryLimit)}`,
    MemPerc: `${f.memoryPercent.toFixed(2)}%`,
    NetIO: `${humanSize(f.networkRx)} / ${humanSize(f.networkTx)}`,
    BlockIO: `${humanSize(f.blockRead)} / ${humanSize(f.blockWrite)}`,
    PIDs: String(f.pids),
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
