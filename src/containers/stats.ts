import { availableParallelism } from 'node:os'
import { readFile } from 'node:fs/promises'
import { type CgroupReader, containerCgroup, systemCpuNanos } from '../runtime/cgroups.ts'
import { rfc3339Nano } from '../lib/time.ts'
import type { ContainerRecord } from './record.ts'

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number }
  system_cpu_usage?: number
  online_cpus?: number
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number }
}

/** One sample of `GET /containers/{id}/stats`, in Docker's shape. */
export interface StatsSample {
  read: string
  preread: string
  pids_stats: { current?: number; limit?: number }
  blkio_stats: { io_service_bytes_recursive: Array<{ major: number; minor: number; op: string; value: number }> | null }
  num_procs: number
  storage_stats: Record<string, never>
  cpu_stats: CpuStats
  precpu_stats: CpuStats
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; limit?: number }
  name: string
  id: string
  networks?: Record<string, { rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number; tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number }>
}

const zeroCpu = (): CpuStats => ({ cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } })

/**
 * Reads one sample of a container's resource use from its cgroup and network namespace. A container that is not
 * running gives an empty sample, as Docker's. `previous` fills precpu_stats (what CPU % is computed against).
 */
export async function sampleStats(rec: ContainerRecord, cgroups: CgroupReader, previous?: StatsSample): Promise<StatsSample> {
  const now = rfc3339Nano(Date.now())
  const base: StatsSample = {
    read: now,
    preread: previous?.read ?? '0001-01-01T00:00:00Z',
    pids_stats: {},
    blkio_stats: { io_service_bytes_recursive: null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: zeroCpu(),
    precpu_stats: previous?.cpu_stats ?? zeroCpu(),
    memory_stats: {},
    name: rec.name,
    id: rec.id,
  }
  if (!rec.state.Running) return { ...base, read: '0001-01-01T00:00:00Z' }
  const cgroup = containerCgroup(rec.id)
  const [cpu, memory, pids, blkio, system, networks] = await Promise.all([
    cgroups.cpu(cgroup),
    cgroups.memory(cgroup),
    cgroups.pids(cgroup),
    cgroups.blockIo(cgroup),
    systemCpuNanos(),
    networkStats(rec.state.Pid),
  ])
  return {
    ...base,
    pids_stats: { current: pids.current, ...(pids.limit ? { limit: pids.limit } : {}) },
    blkio_stats: { io_service_bytes_recursive: blkio },
    cpu_stats: {
      cpu_usage: { total_usage: cpu.total, ...(cpu.percpu.length ? { percpu_usage: cpu.percpu } : {}), usage_in_kernelmode: cpu.system, usage_in_usermode: cpu.user },
      system_cpu_usage: system,
      online_cpus: availableParallelism(),
      throttling_data: { periods: cpu.throttled.periods, throttled_periods: cpu.throttled.throttledPeriods, throttled_time: cpu.throttled.throttledTime },
    },
    // No limit reads as the host's memory, as Docker reports it.
    memory_stats: { usage: memory.usage, max_usage: memory.maxUsage, stats: memory.stats, limit: memory.limit || (await hostMemory()) },
    ...(networks ? { networks } : {}),
  }
}

async function hostMemory(): Promise<number> {
  const m = /MemTotal:\s+(\d+) kB/.exec(await readFile('/proc/meminfo', 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}

/** Interface counters of the container's network namespace (loopback left out), from its PID's view. */
async function networkStats(pid: number): Promise<StatsSample['networks']> {
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => '')
  const out: NonNullable<StatsSample['networks']> = {}
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line)
    if (!m || m[1] === 'lo') continue
    const f = m[2]!.trim().split(/\s+/).map(Number)
    out[m[1]!] = { rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!, tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]! }
  }
  return Object.keys(out).length > 0 ? out : undefined
}
