import type { EngineClient } from '../client/engine-client.ts'
import { statsFigures } from '../client/stats-figures.ts'
import { jsonLines } from '../client/streams.ts'
import type { AlertEngine, ContainerEvent } from './alerts.ts'
import type { HistoryStore, Sample } from './history.ts'

/**
 * Runs while the dashboard does, whether or not a page is open: samples every running container each interval
 * into the history, and feeds the alert rules with the samples and the engine's events.
 */
export class Monitor {
  readonly #client: EngineClient
  readonly #history: HistoryStore
  readonly #alerts: AlertEngine
  readonly #intervalMs: number
  readonly #onError: (err: unknown) => void
  readonly #stop = new AbortController()
  #timer: ReturnType<typeof setInterval> | undefined
  #sampling = false
  /** The last CPU counters per container: CPU% is their change over the interval. */
  readonly #lastCpu = new Map<string, { total: number; system: number }>()

  constructor(opts: { client: EngineClient; history: HistoryStore; alerts: AlertEngine; intervalMs: number; onError: (err: unknown) => void }) {
    this.#client = opts.client
    this.#history = opts.history
    this.#alerts = opts.alerts
    this.#intervalMs = opts.intervalMs
    this.#onError = opts.onError
  }

  start(): void {
    void this.#followEvents()
    this.#timer = setInterval(() => void this.sample(), this.#intervalMs)
    void this.sample()
  }

  async stop(): Promise<void> {
    this.#stop.abort()
    if (this.#timer) clearInterval(this.#timer)
    await this.#history.flush().catch(this.#onError)
  }

  /** One tick: a one-shot stats sample of each running container. */
  async sample(): Promise<void> {
    if (this.#sampling || this.#stop.signal.aborted) return
    this.#sampling = true
    try {
      const running = await this.#client.containers.list()
      const t = Date.now()
      const samples = (
        await Promise.all(
          running.map(async (c): Promise<Sample | undefined> => {
            try {
              for await (const s of await this.#client.containers.stats(c.Id, { stream: false, oneShot: true })) {
                const f = statsFigures(s)
                const total = s.cpu_stats.cpu_usage.total_usage
                const system = s.cpu_stats.system_cpu_usage ?? 0
                const last = this.#lastCpu.get(c.Id)
                this.#lastCpu.set(c.Id, { total, system })
                const online = s.cpu_stats.online_cpus ?? 1
                const cpuPercent = last && system > last.system && total >= last.total ? ((total - last.total) / (system - last.system)) * online * 100 : 0
                const project = c.Labels['com.docker.compose.project']
                return {
                  id: c.Id,
                  name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
                  ...(project ? { project } : {}),
                  cpuPercent,
                  memoryUsage: f.memoryUsage,
                  memoryLimit: f.memoryLimit,
                  networkRx: f.networkRx,
                  networkTx: f.networkTx,
                }
              }
            } catch {
              // gone between the list and its stats
            }
            return undefined
          }),
        )
      ).filter((s): s is Sample => s !== undefined)
      const ids = new Set(running.map((c) => c.Id))
      for (const id of this.#lastCpu.keys()) if (!ids.has(id)) this.#lastCpu.delete(id)
      await this.#history.append({ t, samples })
      await this.#alerts.onSamples(t, samples)
    } catch (err) {
      this.#onError(err)
    } finally {
      this.#sampling = false
    }
  }

  /** The engine's container events, followed again after a dropped connection. */
  async #followEvents(): Promise<void> {
    let since = Math.floor(Date.now() / 1000)
    // After a reconnect the engine sends the last second again: events already seen are skipped.
    let lastNano = 0
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      try {
        const stream = await this.#client.system.events({ since: String(since), filters: { type: ['container'] }, signal: this.#stop.signal })
        attempt = 0
        for await (const e of jsonLines<ContainerEvent & { time?: number }>(stream)) {
          if (e.timeNano !== undefined && e.timeNano <= lastNano) continue
          lastNano = e.timeNano ?? lastNano
          if (e.time) since = e.time
          await this.#alerts.onEvent(e)
        }
      } catch (err) {
        if (this.#stop.signal.aborted) return
        this.#onError(err)
      }
      await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)))
    }
  }
}
