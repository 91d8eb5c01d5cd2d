import type { StatsSample } from '../wire/types.ts'

/** A stats sample's figures as the docker CLI computes them (cgroup v1: memory usage without the page cache). */
export interface StatsFigures {
  cpuPercent: number
  memoryUsage: number
  memoryLimit: number
  memoryPercent: number
  networkRx: number
  networkTx: number
  blockRead: number
  blockWrite: number
  pids: number
}

export function statsFigures(s: StatsSample): StatsFigures {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage
  const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0)
  const online = s.cpu_stats.online_cpus ?? 1
  const stats = s.memory_stats.stats ?? {}
  const usage = Math.max(0, (s.memory_stats.usage ?? 0) - (stats['total_inactive_file'] ?? stats['inactive_file'] ?? 0))
  const limit = s.memory_stats.limit ?? 0
  const io = s.blkio_stats.io_service_bytes_recursive ?? []
  const sum = (values: number[]): number => values.reduce((a, v) => a + v, 0)
  return {
    cpuPercent: systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0,
    memoryUsage: usage,
    memoryLimit: limit,
    memoryPercent: limit > 0 ? (usage / limit) * 100 : 0,
    networkRx: sum(Object.values(s.networks ?? {}).map((n) => n.rx_bytes)),
    networkTx: sum(Object.values(s.networks ?? {}).map((n) => n.tx_bytes)),
    blockRead: sum(io.filter((e) => e.op === 'read').map((e) => e.value)),
    blockWrite: sum(io.filter((e) => e.op === 'write').map((e) => e.value)),
    pids: s.pids_stats.current ?? 0,
  }
}
