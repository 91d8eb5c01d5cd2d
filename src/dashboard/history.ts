import { appendFile, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'

/** One container's figures at one instant. */
export interface Sample {
  id: string
  name: string
  /** The compose project (`com.docker.compose.project`), for per-stack totals. */
  project?: string
  cpuPercent: number
  memoryUsage: number
  memoryLimit: number
  networkRx: number
  networkTx: number
}

export interface Tick {
  /** Unix milliseconds. */
  t: number
  samples: Sample[]
}

export interface HistoryOptions {
  /** Resolution of the fine ring and how long it keeps (10 s for 24 h). */
  fineMs: number
  fineKeepMs: number
  /** Resolution of the coarse ring and how long it keeps (5 min for 30 days). */
  coarseMs: number
  coarseKeepMs: number
  /** Both rings together stay under this many bytes: the oldest files go first. */
  maxBytes: number
}

export const defaultHistoryOptions: HistoryOptions = {
  fineMs: 10_000,
  fineKeepMs: 24 * 3600_000,
  coarseMs: 5 * 60_000,
  coarseKeepMs: 30 * 24 * 3600_000,
  maxBytes: 512 * 1024 * 1024,
}

const hour = 3600_000
const day = 24 * hour

/**
 * Samples of every running container, kept on disk in two rings: one line per tick in hourly files for the fine
 * ring, and averages per `coarseMs` in daily files for the coarse one. Files are only appended to, so a crash
 * loses at most the line being written (a torn last line is skipped on reading); files past their ring's age, or
 * beyond the byte cap, are deleted whole.
 */
export class HistoryStore {
  readonly #dir: string
  readonly #o: HistoryOptions
  /** The coarse slot being averaged: its start, and per container the sum of its samples and their count. */
  #slot: { start: number; sums: Map<string, { sample: Sample; n: number }> } | undefined

  constructor(dir: string, opts: Partial<HistoryOptions> = {}) {
    this.#dir = dir
    this.#o = { ...defaultHistoryOptions, ...opts }
  }

  get options(): HistoryOptions {
    return this.#o
  }

  async append(tick: Tick): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    await appendFile(join(this.#dir, `fine-${Math.floor(tick.t / hour) * hour}.jsonl`), JSON.stringify(tick) + '\n')
    const start = Math.floor(tick.t / this.#o.coarseMs) * this.#o.coarseMs
    if (this.#slot && this.#slot.start !== start) await this.#flushSlot()
    this.#slot ??= { start, sums: new Map() }
    for (const s of tick.samples) {
      const sum = this.#slot.sums.get(s.id)
      if (!sum) this.#slot.sums.set(s.id, { sample: { ...s }, n: 1 })
      else {
        sum.n++
        sum.sample.cpuPercent += s.cpuPercent
        sum.sample.memoryUsage += s.memoryUsage
        // Counters (network bytes) keep their last value; the limit too.
        sum.sample.networkRx = s.networkRx
        sum.sample.networkTx = s.networkTx
        sum.sample.memoryLimit = s.memoryLimit
      }
    }
  }

  async #flushSlot(): Promise<void> {
    const slot = this.#slot
    this.#slot = undefined
    if (!slot || slot.sums.size === 0) return
    const samples = [...slot.sums.values()].map(({ sample, n }) => ({ ...sample, cpuPercent: sample.cpuPercent / n, memoryUsage: Math.round(sample.memoryUsage / n) }))
    await appendFile(join(this.#dir, `coarse-${Math.floor(slot.start / day) * day}.jsonl`), JSON.stringify({ t: slot.start, samples }) + '\n')
    await this.prune()
  }

  /** Writes the coarse slot being averaged (at a stop). */
  async flush(): Promise<void> {
    await this.#flushSlot()
  }

  /** The ticks between two instants, from the fine ring when it covers the start, else from the coarse one. */
  async query(from: number, to: number): Promise<{ resolutionMs: number; ticks: Tick[] }> {
    const fine = from >= Date.now() - this.#o.fineKeepMs
    const prefix = fine ? 'fine-' : 'coarse-'
    const span = fine ? hour : day
    const ticks: Tick[] = []
    for (const name of (await this.#files()).filter((f) => f.startsWith(prefix)).sort(byStart)) {
      const start = startOf(name)
      if (start + span < from || start > to) continue
      const text = await readFile(join(this.#dir, name), 'utf8').catch(() => '')
      for (const line of text.split('\n')) {
        if (!line) continue
        let tick: Tick
        try {
          tick = JSON.parse(line) as Tick
        } catch {
          continue
        }
        if (tick.t >= from && tick.t <= to) ticks.push(tick)
      }
    }
    if (!fine && this.#slot && this.#slot.start >= from && this.#slot.start <= to) {
      ticks.push({ t: this.#slot.start, samples: [...this.#slot.sums.values()].map(({ sample, n }) => ({ ...sample, cpuPercent: sample.cpuPercent / n, memoryUsage: Math.round(sample.memoryUsage / n) })) })
    }
    return { resolutionMs: fine ? this.#o.fineMs : this.#o.coarseMs, ticks }
  }

  /** Deletes files past their ring's age, then the oldest while the rings are over the byte cap. */
  async prune(now = Date.now()): Promise<void> {
    const files = await this.#files()
    const kept: Array<{ name: string; size: number }> = []
    for (const name of files.sort(byStart)) {
      const fine = name.startsWith('fine-')
      const end = startOf(name) + (fine ? hour : day)
      if (end < now - (fine ? this.#o.fineKeepMs : this.#o.coarseKeepMs)) await rm(join(this.#dir, name), { force: true })
      else kept.push({ name, size: (await stat(join(this.#dir, name)).catch(() => undefined))?.size ?? 0 })
    }
    let total = kept.reduce((n, f) => n + f.size, 0)
    for (const f of kept) {
      if (total <= this.#o.maxBytes) break
      await rm(join(this.#dir, f.name), { force: true })
      total -= f.size
    }
  }

  async #files(): Promise<string[]> {
    return (await readdir(this.#dir).catch(() => [] as string[])).filter((f) => /^(fine|coarse)-\d+\.jsonl$/.test(f))
  }
}

const startOf = (name: string): number => Number(/-(\d+)\.jsonl$/.exec(name)![1])
const byStart = (a: string, b: string): number => startOf(a) - startOf(b)

/** Per-stack totals of a tick: the sum of its containers' figures by compose project (`-` for none). */
export function stackTotals(tick: Tick): Record<string, { cpuPercent: number; memoryUsage: number; containers: number }> {
  const out: Record<string, { cpuPercent: number; memoryUsage: number; containers: number }> = {}
  for (const s of tick.samples) {
    const key = s.project ?? '-'
    const o = (out[key] ??= { cpuPercent: 0, memoryUsage: 0, containers: 0 })
    o.cpuPercent += s.cpuPercent
    o.memoryUsage += s.memoryUsage
    o.containers++
  }
  return out
}
