type Message = Record<string, unknown>

/**
 * Keeps the output of stages that build in parallel in stage order: the first unfinished stage writes through;
 * a later one's messages wait until every stage before it is done. The classic builder's stream has no stage
 * prefixes, so interleaved steps would be unreadable.
 */
export class StageOutput {
  readonly #send: (m: Message) => void
  readonly #order: number[]
  readonly #held = new Map<number, Message[]>()
  readonly #done = new Set<number>()
  #current = 0

  /** `order`: the stage indexes in the order their output is shown. */
  constructor(order: number[], send: (m: Message) => void) {
    this.#order = order
    this.#send = send
    for (const i of order) this.#held.set(i, [])
  }

  sendFor(stage: number): (m: Message) => void {
    return (m) => {
      if (this.#order[this.#current] === stage) this.#send(m)
      else this.#held.get(stage)?.push(m)
    }
  }

  /** A stage is done (or failed): the next stages' held output goes out, up to the next unfinished one. */
  finish(stage: number): void {
    this.#done.add(stage)
    while (this.#current < this.#order.length && this.#done.has(this.#order[this.#current]!)) {
      this.#current++
      const next = this.#order[this.#current]
      if (next === undefined) break
      for (const m of this.#held.get(next) ?? []) this.#send(m)
      this.#held.set(next, [])
    }
  }
}
