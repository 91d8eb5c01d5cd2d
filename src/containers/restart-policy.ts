import type { Logger } from '../lib/log.ts'
import type { RestartPolicy } from '../wire/types.ts'
import type { ContainerRecord } from './record.ts'
import { ContainerTimers } from './running-watch.ts'

/** Docker's backoff: 100 ms doubling per restart up to a minute; reset once a run lasted 10 s. */
export const initialRestartDelayMs = 100
export const maxRestartDelayMs = 60_000
const resetAfterMs = 10_000

/** Whether a container that just exited should be restarted by its policy. */
export function shouldRestart(policy: RestartPolicy, exitCode: number, restartCount: number, manuallyStopped: boolean): boolean {
  if (manuallyStopped) return false
  switch (policy.Name) {
    case 'always':
    case 'unless-stopped':
      return true
    case 'on-failure':
      return exitCode !== 0 && (policy.MaximumRetryCount <= 0 || restartCount < policy.MaximumRetryCount)
    default:
      return false
  }
}

export function nextRestartDelay(previousMs: number | undefined, ranMs: number): number {
  if (previousMs === undefined || ranMs >= resetAfterMs) return initialRestartDelayMs
  return Math.min(previousMs * 2, maxRestartDelayMs)
}

/** Policies under which caisd starts a container when the daemon itself starts. */
export function startsWithDaemon(policy: RestartPolicy, manuallyStopped: boolean): boolean {
  return policy.Name === 'always' || (policy.Name === 'unless-stopped' && !manuallyStopped)
}

/** What the scheduler needs of the container service. */
export interface RestartTarget {
  /** A start by the policy: it does nothing when the container is no longer waiting for it. */
  start(id: string): Promise<unknown>
  save(rec: ContainerRecord): Promise<void>
  exists(id: string): boolean
  log: Logger
}

/** Restarts by policy: each container's backoff and its pending restart. */
export class RestartScheduler {
  readonly #target: RestartTarget
  readonly #timers = new ContainerTimers()
  readonly #delays = new Map<string, number>()

  constructor(target: RestartTarget) {
    this.#target = target
  }

  /** After an exit the policy restarts: state `restarting`, then a start after the backoff delay. */
  schedule(rec: ContainerRecord): void {
    if (!shouldRestart(rec.hostConfig.RestartPolicy, rec.state.ExitCode, rec.restartCount, rec.manuallyStopped ?? false)) return
    const ranMs = Date.now() - Date.parse(rec.state.StartedAt)
    const delay = nextRestartDelay(this.#delays.get(rec.id), ranMs)
    this.#delays.set(rec.id, delay)
    rec.state = { ...rec.state, Status: 'restarting', Restarting: true }
    void this.#target.save(rec).catch(() => {})
    this.#timers.set(
      rec.id,
      setTimeout(() => {
        this.#timers.clear(rec.id)
        if (!this.#target.exists(rec.id) || !rec.state.Restarting) return
        rec.restartCount++
        this.#target.start(rec.id).catch((err: unknown) => {
          this.#target.log.warn('restart by policy failed', { container: rec.id, err })
          rec.state = { ...rec.state, Restarting: false, Status: 'exited' }
          this.schedule(rec)
        })
      }, delay),
    )
  }

  /** Cancels a pending restart; true when there was one (the container is `exited` again). */
  cancel(rec: ContainerRecord): boolean {
    this.#timers.clear(rec.id)
    if (!rec.state.Restarting) return false
    rec.state = { ...rec.state, Restarting: false, Status: 'exited' }
    return true
  }

  /** A start by hand, or a removal: the next backoff starts from the beginning. */
  reset(id: string): void {
    this.#delays.delete(id)
  }

  close(): void {
    this.#timers.clearAll()
  }
}
