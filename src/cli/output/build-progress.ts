import type { Writable } from 'node:stream'
import type { JsonMessage } from '../../wire/types.ts'

export type ProgressMode = 'plain' | 'tty' | 'quiet'

/** A failed build: its message, and the exit code of the step that failed when there was one. */
export class BuildFailed extends Error {
  readonly exitCode: number
  constructor(message: string, exitCode: number) {
    super(message)
    this.exitCode = exitCode
  }
}

interface Step {
  title: string
  started: number
  ended: number | undefined
  cached: boolean
  output: string[]
}

const SHOWN_LINES = 6

/**
 * Renders a classic build's messages. `plain` writes the daemon's text as it comes; `tty` keeps one line per
 * finished step (with its time, or CACHED) and, under the running step, its last output lines, redrawn in place,
 * as BuildKit's terminal view does. Returns the built image's ID (from the `aux` message).
 */
export async function displayBuild(messages: AsyncIterable<JsonMessage>, out: Writable, mode: ProgressMode): Promise<string | undefined> {
  let imageId: string | undefined
  const view = mode === 'tty' ? new TtyView(out) : undefined
  try {
    for await (const m of messages) {
      if (m.errorDetail || m.error) {
        view?.fail()
        throw new BuildFailed(m.errorDetail?.message ?? m.error ?? 'build failed', m.errorDetail?.code ?? 1)
      }
      const aux = m.aux as { ID?: string } | undefined
      if (aux?.ID) imageId = aux.ID
      if (mode === 'quiet') continue
      const text = m.stream ?? (m.status !== undefined ? `${m.id ? `${m.id}: ` : ''}${m.status}\n` : undefined)
      if (text === undefined) continue
      if (view) view.text(text)
      else out.write(text)
    }
  } finally {
    view?.close()
  }
  return imageId
}

class TtyView {
  readonly #out: Writable
  readonly #steps: Step[] = []
  #drawn = 0
  #partial = ''
  readonly #timer: NodeJS.Timeout
  readonly #start = Date.now()

  constructor(out: Writable) {
    this.#out = out
    this.#timer = setInterval(() => this.#redraw(), 100)
  }

  text(chunk: string): void {
    const lines = (this.#partial + chunk).split('\n')
    this.#partial = lines.pop()!
    for (const line of lines) this.#line(line)
    this.#redraw()
  }

  #line(line: string): void {
    const current = this.#steps.at(-1)
    const step = /^Step (\d+\/\d+) : (.*)$/.exec(line)
    if (step) {
      this.#finish()
      this.#steps.push({ title: `[${step[1]}] ${step[2]}`, started: Date.now(), ended: undefined, cached: false, output: [] })
      return
    }
    if (line === ' ---> Using cache') {
      if (current) current.cached = true
      return
    }
    if (/^ ---> (Running in [0-9a-f]+|[0-9a-f]{12})$/.test(line) || line.startsWith('Removing intermediate container')) return
    if (/^Successfully (built|tagged) /.test(line) || !current || current.ended !== undefined) {
      this.#finish()
      this.#clear()
      this.#out.write(`${line}\n`)
      return
    }
    current.output.push(line)
  }

  /** The running step is done: it becomes a permanent line. */
  #finish(): void {
    const current = this.#steps.at(-1)
    if (!current || current.ended !== undefined) return
    current.ended = Date.now()
    this.#clear()
    this.#out.write(`${this.#stepLine(current)}\n`)
  }

  #stepLine(s: Step): string {
    const secs = (((s.ended ?? Date.now()) - s.started) / 1000).toFixed(1)
    return s.cached ? ` => CACHED ${s.title}` : ` => ${s.title}  ${secs}s`
  }

  #clear(): void {
    if (this.#drawn > 0) this.#out.write(`\x1b[${this.#drawn}A\r\x1b[J`)
    this.#drawn = 0
  }

  #redraw(): void {
    const current = this.#steps.at(-1)
    this.#clear()
    const total = ((Date.now() - this.#start) / 1000).toFixed(1)
    const lines = [`[+] Building ${total}s`]
    if (current && current.ended === undefined) {
      lines.push(this.#stepLine(current))
      for (const l of current.output.slice(-SHOWN_LINES)) lines.push(`\x1b[2m #  ${l.slice(0, (this.#width() || 120) - 5)}\x1b[0m`)
    }
    this.#out.write(`${lines.join('\n')}\n`)
    this.#drawn = lines.length
  }

  #width(): number {
    return (this.#out as { columns?: number }).columns ?? 0
  }

  /** The failing step's whole output stays on screen. */
  fail(): void {
    const current = this.#steps.at(-1)
    this.#clear()
    if (current && current.ended === undefined) {
      current.ended = Date.now()
      this.#out.write(`${this.#stepLine(current)}\n${current.output.map((l) => ` #  ${l}`).join('\n')}\n`)
    }
  }

  close(): void {
    clearInterval(this.#timer)
    this.#finish()
    this.#clear()
    if (this.#partial !== '') this.#out.write(`${this.#partial}\n`)
  }
}
