import { EventEmitter } from 'node:events'
import { appendFile, mkdir, open, readFile, rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Sample } from './history.ts'

/**
 * Alert rules: a container turned unhealthy, exited with a code other than 0, was killed for lack of memory,
 * restarted more than `count` times within `minutes`, or stayed above `percent` CPU or memory (of its limit) for
 * `minutes`.
 */
export type AlertRule =
  | { kind: 'unhealthy' | 'exit-nonzero' | 'oom' }
  | { kind: 'restarts'; count: number; minutes: number }
  | { kind: 'cpu' | 'memory'; percent: number; minutes: number }

export const defaultRules: AlertRule[] = [
  { kind: 'unhealthy' },
  { kind: 'exit-nonzero' },
  { kind: 'oom' },
  { kind: 'restarts', count: 3, minutes: 5 },
  { kind: 'cpu', percent: 90, minutes: 5 },
  { kind: 'memory', percent: 90, minutes: 5 },
]

export interface Alert {
  /** Unix milliseconds. */
  time: number
  kind: AlertRule['kind']
  container: { id: string; name: string }
  message: string
}

/** The engine event fields the rules read. */
export interface ContainerEvent {
  Type: string
  Action: string
  Actor: { ID: string; Attributes?: Record<string, string> }
  timeNano?: number
}

/** Checks a rule list for mistakes a user could make in a rules file. */
export function parseRules(value: unknown): AlertRule[] {
  if (!Array.isArray(value)) throw new Error('alert rules must be a JSON list')
  return value.map((r: unknown, i) => {
    const rule = r as Record<string, unknown>
    const num = (k: string): number => {
      const v = rule[k]
      if (typeof v !== 'number' || !(v > 0)) throw new Error(`alert rule ${i + 1} (${String(rule['kind'])}): ${k} must be a positive number`)
      return v
    }
    switch (rule['kind']) {
      case 'unhealthy':
      case 'exit-nonzero':
      case 'oom':
        return { kind: rule['kind'] }
      case 'restarts':
        return { kind: 'restarts', count: num('count'), minutes: num('minutes') }
      case 'cpu':
      case 'memory':
        return { kind: rule['kind'], percent: num('percent'), minutes: num('minutes') }
      default:
        throw new Error(`alert rule ${i + 1}: unknown kind ${JSON.stringify(rule['kind'])} (unhealthy, exit-nonzero, oom, restarts, cpu, memory)`)
    }
  })
}

/**
 * Watches events and samples against the rules. A firing alert is appended to the alert history on disk, emitted
 * (`alert`) for open pages, and posted to the webhook when there is one.
 */
export class AlertEngine extends EventEmitter<{ alert: [Alert] }> {
  #rules: AlertRule[]
  readonly #rulesFile: string | undefined
  readonly #file: string
  readonly #webhook: string | undefined
  readonly #onWebhookError: (err: unknown) => void
  /** Start times per container, for the restart rule. */
  readonly #starts = new Map<string, number[]>()
  /** Since when a container has been above a threshold, per rule kind; and whether that already fired. */
  readonly #above = new Map<string, { since: number; fired: boolean }>()

  constructor(opts: { rules: AlertRule[]; dir: string; rulesFile?: string | undefined; webhook?: string | undefined; onWebhookError?: (err: unknown) => void }) {
    super()
    this.#rules = opts.rules
    this.#rulesFile = opts.rulesFile
    this.#file = join(opts.dir, 'alerts.jsonl')
    this.#webhook = opts.webhook
    this.#onWebhookError = opts.onWebhookError ?? (() => undefined)
  }

  get rules(): AlertRule[] {
    return this.#rules
  }

  /**
   * Replaces the rules (checked by `parseRules`), saving them first where they are kept (`rulesFile`, written
   * atomically) so they hold after a restart; a threshold a rule no longer watches starts over.
   */
  async setRules(value: unknown): Promise<AlertRule[]> {
    const rules = parseRules(value)
    if (this.#rulesFile) {
      await mkdir(dirname(this.#rulesFile), { recursive: true })
      const tmp = `${this.#rulesFile}.${process.pid}.tmp`
      const fh = await open(tmp, 'w', 0o600)
      try {
        await fh.writeFile(`${JSON.stringify(rules, null, 2)}\n`)
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, this.#rulesFile)
    }
    this.#rules = rules
    this.#above.clear()
    return rules
  }

  /** The alert history, newest last. */
  async history(limit = 1000): Promise<Alert[]> {
    const text = await readFile(this.#file, 'utf8').catch(() => '')
    const out: Alert[] = []
    for (const line of text.split('\n')) {
      if (!line) continue
      try {
        out.push(JSON.parse(line) as Alert)
      } catch {
        // a line torn by a crash
      }
    }
    return out.slice(-limit)
  }

  async onEvent(e: ContainerEvent): Promise<void> {
    if (e.Type !== 'container') return
    const time = e.timeNano ? Math.round(e.timeNano / 1e6) : Date.now()
    const container = { id: e.Actor.ID, name: e.Actor.Attributes?.['name'] ?? e.Actor.ID.slice(0, 12) }
    for (const rule of this.#rules) {
      if (rule.kind === 'unhealthy' && e.Action === 'health_status: unhealthy') {
        await this.#fire({ time, kind: rule.kind, container, message: `${container.name} is unhealthy` })
      } else if (rule.kind === 'exit-nonzero' && e.Action === 'die') {
        const code = e.Actor.Attributes?.['exitCode'] ?? '0'
        if (code !== '0') await this.#fire({ time, kind: rule.kind, container, message: `${container.name} exited with code ${code}` })
      } else if (rule.kind === 'oom' && e.Action === 'oom') {
        await this.#fire({ time, kind: rule.kind, container, message: `${container.name} was killed: out of memory` })
      } else if (rule.kind === 'restarts' && e.Action === 'start') {
        const windowMs = rule.minutes * 60_000
        const starts = (this.#starts.get(container.id) ?? []).filter((t) => t > time - windowMs)
        starts.push(time)
        this.#starts.set(container.id, starts)
        // The first start is not a restart.
        if (starts.length - 1 > rule.count) {
          this.#starts.set(container.id, [])
          await this.#fire({ time, kind: rule.kind, container, message: `${container.name} restarted ${starts.length - 1} times in ${rule.minutes} min` })
        }
      }
    }
    if (e.Action === 'destroy') {
      this.#starts.delete(container.id)
      for (const key of [...this.#above.keys()]) if (key.endsWith(`/${container.id}`)) this.#above.delete(key)
    }
  }

  async onSamples(time: number, samples: Sample[]): Promise<void> {
    for (const rule of this.#rules) {
      if (rule.kind !== 'cpu' && rule.kind !== 'memory') continue
      for (const s of samples) {
        const value = rule.kind === 'cpu' ? s.cpuPercent : s.memoryLimit > 0 ? (s.memoryUsage / s.memoryLimit) * 100 : 0
        const key = `${rule.kind}/${s.id}`
        if (value <= rule.percent) {
          this.#above.delete(key)
          continue
        }
        const state = this.#above.get(key) ?? { since: time, fired: false }
        this.#above.set(key, state)
        if (!state.fired && time - state.since >= rule.minutes * 60_000) {
          state.fired = true
          await this.#fire({
            time,
            kind: rule.kind,
            container: { id: s.id, name: s.name },
            message: `${s.name}: ${rule.kind === 'cpu' ? 'CPU' : 'memory'} above ${rule.percent}% for ${rule.minutes} min (${value.toFixed(1)}%)`,
          })
        }
      }
    }
  }

  async #fire(alert: Alert): Promise<void> {
    await mkdir(join(this.#file, '..'), { recursive: true })
    await appendFile(this.#file, JSON.stringify(alert) + '\n')
    this.emit('alert', alert)
    if (this.#webhook) {
      fetch(this.#webhook, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(alert), signal: AbortSignal.timeout(10_000) }).then(
        (r) => {
          if (!r.ok) this.#onWebhookError(new Error(`webhook answered ${r.status}`))
        },
        this.#onWebhookError,
      )
    }
  }
}
