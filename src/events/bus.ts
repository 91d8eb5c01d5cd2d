import type { EventMessage } from '../wire/types.ts'

export type EventType = 'container' | 'image' | 'volume' | 'network' | 'daemon'
type Listener = (e: EventMessage) => void

/** Publishes Docker events to live subscribers and keeps the last ones for `since` queries. */
export class EventBus {
  readonly #buffer: EventMessage[] = []
  readonly #listeners = new Set<Listener>()
  readonly #capacity: number
  #lastNs = 0n
  /** Events emitted since the start, by `type action`, for the metrics. */
  readonly emitted = new Map<string, number>()

  constructor(capacity = 1024) {
    this.#capacity = capacity
  }

  emit(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): void {
    // Sub-millisecond digits from the monotonic clock, and never at or before the last event's: clients that
    // follow the stream again skip what is not after the last time they saw (the dashboard does). In steps of
    // 1024 ns, which a JSON number (a double) holds exactly: finer ones would round to equal or reversed times.
    let nowNs = (BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n)) & ~1023n
    if (nowNs <= this.#lastNs) nowNs = this.#lastNs + 1024n
    this.#lastNs = nowNs
    const e: EventMessage = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    }
    // Deprecated fields that API 1.50 still sends.
    if (type === 'container') {
      e.status = action
      e.id = id
      if (attributes['image'] !== undefined) e.from = attributes['image']
    } else if (type === 'image') {
      e.status = action
      e.id = id
    }
    const key = `${type} ${action}`
    this.emitted.set(key, (this.emitted.get(key) ?? 0) + 1)
    this.#buffer.push(e)
    if (this.#buffer.length > this.#capacity) this.#buffer.shift()
    for (const l of this.#listeners) l(e)
  }

  /** Live subscriptions (`/events` streams and the daemon's own watchers). */
  get subscribers(): number {
    return this.#listeners.size
  }

  /** Past events (oldest first) and a subscription to new ones; call the returned function to stop. */
  subscribe(listener: Listener): { past: EventMessage[]; unsubscribe: () => void } {
    this.#listeners.add(listener)
    return { past: [...this.#buffer], unsubscribe: () => this.#listeners.delete(listener) }
  }
}
