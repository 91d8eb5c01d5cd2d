import { existsSync, readFileSync } from 'node:fs'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const cgroupRoot = '/sys/fs/cgroup'
/** cgroup v2 alone (one unified hierarchy), or v1 and hybrid hosts (one hierarchy per controller, as here). */
export const unifiedCgroups = existsSync(join(cgroupRoot, 'cgroup.controllers'))

/** The cgroup crun puts a container in (its spec's `cgroupsPath`). */
export const containerCgroup = (id: string): string => `/cais/${id}`

/** Lifts a cgroup's PIDs limit. crun 1.8 passes a limit of -1 to the kernel as it is, which refuses it; "max" is its word. */
export async function liftPidsLimit(cgroup: string): Promise<void> {
  await writeFile(unifiedCgroups ? join(cgroupRoot, cgroup, 'pids.max') : join(cgroupRoot, 'pids', cgroup, 'pids.max'), 'max')
}

let hierarchies: Promise<string[]> | undefined
/** Every directory of a cgroup (`/cais/<id>`): one on v2, one per mounted hierarchy on v1. */
export async function cgroupDirs(cgroup: string): Promise<string[]> {
  if (unifiedCgroups) return [join(cgroupRoot, cgroup)]
  hierarchies ??= readdir(cgroupRoot)
  return (await hierarchies).map((h) => join(cgroupRoot, h, cgroup))
}

/**
 * Reads a container's cgroup, where crun put it (`cgroupsPath`, e.g. `/cais/<id>`): per controller on cgroup v1
 * (these machines), one unified directory on v2. Missing files read as zero: a container that is gone has none.
 */
export class CgroupReader {
  readonly #base = cgroupRoot
  readonly #unified = unifiedCgroups

  get version(): 1 | 2 {
    return this.#unified ? 2 : 1
  }

  #path(controller: string, cgroup: string, file: string): string {
    return this.#unified ? join(this.#base, cgroup, file) : join(this.#base, controller, cgroup, file)
  }

  async #text(controller: string, cgroup: string, file: string): Promise<string> {
    return readFile(this.#path(controller, cgroup, file), 'utf8').catch(() => '')
  }

  async #number(controller: string, cgroup: string, file: string): Promise<number> {
    const n = Number((await this.#text(controller, cgroup, file)).trim())
    return Number.isFinite(n) ? n : 0
  }

  async #keyed(controller: string, cgroup: string, file: string): Promise<Record<string, number>> {
    return keyedValues(await this.#text(controller, cgroup, file))
  }

  /**
   * How many times the kernel's OOM killer struck in the cgroup. Read synchronously, as it is read at every exit:
   * a cgroup file is made by the kernel on read, so this never waits on a disk.
   */
  oomKills(cgroup: string): number {
    const file = this.#unified ? this.#path('memory', cgroup, 'memory.events') : this.#path('memory', cgroup, 'memory.oom_control')
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      return 0
    }
    return keyedValues(text)['oom_kill'] ?? 0
  }

  /** Whether the cgroup's processes are frozen (paused), or being frozen. */
  async frozen(cgroup: string): Promise<boolean> {
    if (this.#unified) return (await this.#text('', cgroup, 'cgroup.freeze')).trim() === '1'
    return /FROZEN|FREEZING/.test(await this.#text('freezer', cgroup, 'freezer.state'))
  }

  /** CPU time in nanoseconds: total, per CPU, user and system. */
  async cpu(cgroup: string): Promise<{ total: number; percpu: number[]; user: number; system: number; throttled: { periods: number; throttledPeriods: number; throttledTime: number } }> {
    if (this.#unified) {
      const s = await this.#keyed('cpu', cgroup, 'cpu.stat')
      return {
        total: (s['usage_usec'] ?? 0) * 1000,
        percpu: [],
        user: (s['user_usec'] ?? 0) * 1000,
        system: (s['system_usec'] ?? 0) * 1000,
        throttled: { periods: s['nr_periods'] ?? 0, throttledPeriods: s['nr_throttled'] ?? 0, throttledTime: (s['throttled_usec'] ?? 0) * 1000 },
      }
    }
    const percpu = (await this.#text('cpuacct', cgroup, 'cpuacct.usage_percpu')).trim().split(/\s+/).filter(Boolean).map(Number)
    const ticks = await this.#keyed('cpuacct', cgroup, 'cpuacct.stat')
    const tick = 1e9 / 100 // USER_HZ
    const t = await this.#keyed('cpu', cgroup, 'cpu.stat')
    return {
      total: await this.#number('cpuacct', cgroup, 'cpuacct.usage'),
      percpu,
      user: (ticks['user'] ?? 0) * tick,
      system: (ticks['system'] ?? 0) * tick,
      throttled: { periods: t['nr_periods'] ?? 0, throttledPeriods: t['nr_throttled'] ?? 0, throttledTime: t['throttled_time'] ?? 0 },
    }
  }

  /** Memory in bytes: usage, peak, limit (0 when unlimited) and the detailed counters. */
  async memory(cgroup: string): Promise<{ usage: number; maxUsage: number; limit: number; stats: Record<string, number> }> {
    if (this.#unified) {
      const max = (await this.#text('memory', cgroup, 'memory.max')).trim()
      return {
        usage: await this.#number('memory', cgroup, 'memory.current'),
        maxUsage: await this.#number('memory', cgroup, 'memory.peak'),
        limit: max === '' || max === 'max' ? 0 : Number(max),
        stats: await this.#keyed('memory', cgroup, 'memory.stat'),
      }
    }
    const limit = await this.#number('memory', cgroup, 'memory.limit_in_bytes')
    return {
      usage: await this.#number('memory', cgroup, 'memory.usage_in_bytes'),
      maxUsage: await this.#number('memory', cgroup, 'memory.max_usage_in_bytes'),
      // v1 says "no limit" with a page-rounded 2^63-1.
      limit: limit >= 2 ** 62 ? 0 : limit,
      stats: await this.#keyed('memory', cgroup, 'memory.stat'),
    }
  }

  async pids(cgroup: string): Promise<{ current: number; limit: number }> {
    const max = (await this.#text('pids', cgroup, 'pids.max')).trim()
    return { current: await this.#number('pids', cgroup, 'pids.current'), limit: max === '' || max === 'max' ? 0 : Number(max) }
  }

  /** Bytes read and written per block device, as Docker's io_service_bytes_recursive entries. */
  async blockIo(cgroup: string): Promise<Array<{ major: number; minor: number; op: string; value: number }>> {
    const out: Array<{ major: number; minor: number; op: string; value: number }> = []
    if (this.#unified) {
      for (const line of (await this.#text('io', cgroup, 'io.stat')).split('\n')) {
        const [dev, ...kv] = line.trim().split(/\s+/)
        if (!dev?.includes(':')) continue
        const [major, minor] = dev.split(':').map(Number) as [number, number]
        const f = Object.fromEntries(kv.map((x) => x.split('=') as [string, string]))
        out.push({ major, minor, op: 'read', value: Number(f['rbytes'] ?? 0) }, { major, minor, op: 'write', value: Number(f['wbytes'] ?? 0) })
      }
      return out
    }
    for (const line of (await this.#text('blkio', cgroup, 'blkio.throttle.io_service_bytes_recursive')).split('\n')) {
      const [dev, op, value] = line.trim().split(/\s+/)
      if (!dev?.includes(':') || !op || value === undefined) continue
      const [major, minor] = dev.split(':').map(Number) as [number, number]
      out.push({ major, minor, op: op.toLowerCase(), value: Number(value) })
    }
    return out
  }
}

/** The host's CPU time in nanoseconds, from /proc/stat, as Docker's system_cpu_usage. */
export async function systemCpuNanos(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n').find((l) => l.startsWith('cpu '))
  const ticks = (line ?? '').split(/\s+/).slice(1, 8).map(Number).reduce((a, b) => a + b, 0)
  return ticks * (1e9 / 100)
}

/** A cgroup file of `key value` lines (memory.stat, cpu.stat, memory.oom_control). */
function keyedValues(text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/)
    if (k && v !== undefined) out[k] = Number(v)
  }
  return out
}
