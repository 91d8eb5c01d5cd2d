import type { EventBus } from '../events/bus.ts'
import type { ContainerRecord } from './record.ts'

/**
 * Follows which containers run: `begin(id, started)` for each running one now (`started` false) and at each
 * start (true), `end(id)` at each die and destroy. Returns the function that stops following.
 */
export function followRunning(
  events: EventBus,
  containers: { readonly all: ContainerRecord[] },
  on: { begin(id: string, started: boolean): void; end(id: string): void },
): () => void {
  const { unsubscribe } = events.subscribe((e) => {
    if (e.Type !== 'container') return
    if (e.Action === 'start') on.begin(e.Actor.ID, true)
    else if (e.Action === 'die' || e.Action === 'destroy') on.end(e.Actor.ID)
  })
  for (const rec of containers.all) if (rec.state.Running) on.begin(rec.id, false)
  return unsubscribe
}

/** Timers by container ID, none keeping the daemon alive: setting one for an ID clears the one it had. */
export class ContainerTimers {
  readonly #timers = new Map<string, NodeJS.Timeout>()

  set(id: string, timer: NodeJS.Timeout): void {
    this.clear(id)
    timer.unref()
    this.#timers.set(id, timer)
  }

  has(id: string): boolean {
    return this.#timers.has(id)
  }

  /** Timeouts and intervals alike (Node clears either with clearTimeout). */
  clear(id: string): void {
    clearTimeout(this.#timers.get(id))
    this.#timers.delete(id)
  }

  clearAll(): void {
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
  }
}
