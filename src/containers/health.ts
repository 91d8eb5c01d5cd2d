import type { EventBus } from '../events/bus.ts'
import type { Logger } from '../lib/log.ts'
import type { HealthConfig } from '../wire/types.ts'
import type { ExecService } from './exec.ts'
import type { ContainerService } from './service.ts'
import { ContainerTimers, followRunning } from './running-watch.ts'

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy'

export interface HealthLogEntry {
  Start: string
  End: string
  ExitCode: number
  Output: string
}

/** `State.Health` of inspect. */
export interface Health {
  Status: HealthStatus
  FailingStreak: number
  Log: HealthLogEntry[]
}

const second = 1_000_000_000
const defaults = { Interval: 30 * second, Timeout: 30 * second, StartPeriod: 0, StartInterval: 5 * second, Retries: 3 }
/** Docker keeps the last five probes and 4 KiB of each one's output. */
const maxLogEntries = 5
const maxOutput = 4096

/**
 * A container's health check: the image's HEALTHCHECK with the container's settings over it, field by field, as
 * Docker merges them. Undefined when there is none or it is `NONE`.
 */
export function effectiveHealthcheck(container: HealthConfig | undefined, image: HealthConfig | undefined): Required<HealthConfig> | undefined {
  const test = container?.Test?.length ? container.Test : image?.Test
  if (!test?.length || test[0] === 'NONE') return undefined
  const pick = (k: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval' | 'Retries'): number => container?.[k] || image?.[k] || defaults[k]
  return { Test: test, Interval: pick('Interval'), Timeout: pick('Timeout'), StartPeriod: pick('StartPeriod'), StartInterval: pick('StartInterval'), Retries: pick('Retries') }
}

/** The command a probe runs: `CMD` args as they are, `CMD-SHELL` through /bin/sh -c. */
export function probeCommand(test: string[]): string[] {
  if (test[0] === 'CMD-SHELL') return ['/bin/sh', '-c', test.slice(1).join(' ')]
  if (test[0] === 'CMD') return test.slice(1)
  return test
}

/**
 * Runs health checks of running containers: the first probe one interval after the start (the start interval
 * while in the start period), each probe an exec with a timeout. A success makes the container healthy; failures
 * outside the start period count, and `Retries` of them in a row make it unhealthy. Status changes are events
 * (`health_status: healthy`). Probes follow the container's start and die events, and resume after a restart.
 */
export class HealthMonitor {
  readonly #d: { containers: ContainerService; execs: ExecService; events: EventBus; log: Logger }
  readonly #timers = new ContainerTimers()
  #unsubscribe: (() => void) | undefined

  constructor(deps: { containers: ContainerService; execs: ExecService; events: EventBus; log: Logger }) {
    this.#d = deps
  }

  start(): void {
    this.#unsubscribe = followRunning(this.#d.events, this.#d.containers, {
      begin: (id, started) => this.#begin(id, started),
      end: (id) => this.#end(id),
    })
  }

  close(): void {
    this.#unsubscribe?.()
    this.#timers.clearAll()
  }

  #config(id: string): Required<HealthConfig> | undefined {
    const rec = this.#d.containers.get(id)
    return effectiveHealthcheck(rec.config.Healthcheck, this.#d.containers.imageHealthcheck(rec.id))
  }

  #begin(id: string, fresh: boolean): void {
    this.#end(id)
    let cfg: Required<HealthConfig> | undefined
    try {
      cfg = this.#config(id)
    } catch {
      return
    }
    if (!cfg) return
    if (fresh) void this.#d.containers.setHealth(id, { Status: 'starting', FailingStreak: 0, Log: [] })
    this.#schedule(id, cfg)
  }

  #end(id: string): void {
    this.#timers.clear(id)
  }

  #schedule(id: string, cfg: Required<HealthConfig>): void {
    const rec = this.#d.containers.get(id)
    const inStartPeriod = Date.now() - Date.parse(rec.state.StartedAt) < cfg.StartPeriod / 1e6
    const delayNs = inStartPeriod ? cfg.StartInterval : cfg.Interval
    this.#timers.set(id, setTimeout(() => void this.#probe(id, cfg), delayNs / 1e6))
  }

  async #probe(id: string, cfg: Required<HealthConfig>): Promise<void> {
    let rec
    try {
      rec = this.#d.containers.get(id)
    } catch {
      return this.#end(id)
    }
    if (!rec.state.Running) return this.#end(id)
    const start = new Date()
    let result: { exitCode: number; output: string }
    if (rec.state.Paused) result = { exitCode: -1, output: 'container is paused' }
    else {
      result = await this.#d.execs.probe(id, probeCommand(cfg.Test), cfg.Timeout / 1e6).catch((err: unknown) => ({
        exitCode: -1,
        output: err instanceof Error ? err.message : String(err),
      }))
    }
    if (!this.#timers.has(id)) return // stopped meanwhile
    const previous = this.#d.containers.get(id).state.Health as Health | undefined
    const h: Health = previous ? { ...previous, Log: [...previous.Log] } : { Status: 'starting', FailingStreak: 0, Log: [] }
    h.Log.push({ Start: start.toISOString(), End: new Date().toISOString(), ExitCode: result.exitCode, Output: result.output.slice(0, maxOutput) })
    if (h.Log.length > maxLogEntries) h.Log.splice(0, h.Log.length - maxLogEntries)
    if (result.exitCode === 0) {
      h.Status = 'healthy'
      h.FailingStreak = 0
    } else {
      const inStartPeriod = Date.now() - Date.parse(rec.state.StartedAt) < cfg.StartPeriod / 1e6
      // Failures while starting up do not count against the container, as Docker's start period says.
      if (!(h.Status === 'starting' && inStartPeriod)) {
        h.FailingStreak++
        if (h.FailingStreak >= cfg.Retries) h.Status = 'unhealthy'
      }
    }
    await this.#d.containers.setHealth(id, h).catch((err: unknown) => this.#d.log.warn('health state not saved', { container: id, err }))
    this.#schedule(id, cfg)
  }
}
