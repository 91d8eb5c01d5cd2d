import { type FSWatcher, watch } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { isErrno } from '../lib/errors.ts'

/**
 * Container logs as conmon writes them (k8s-file): one line per write chunk,
 * `<RFC3339Nano time> <stdout|stderr> <P|F> <text>`, where P marks a partial line continued by the next.
 * Readers join partials back into whole lines, as Docker's json-file keeps them.
 */
export interface LogEntry {
  stream: 'stdout' | 'stderr'
  /** RFC3339 with nanoseconds, UTC, as Docker prints with --timestamps. */
  time: string
  /** Unix nanoseconds, for since/until. */
  nanos: bigint
  /** The text including its trailing newline, when it had one. */
  line: string
}

export function parseLogLine(raw: string): { stream: 'stdout' | 'stderr'; time: string; nanos: bigint; partial: boolean; text: string } | undefined {
  const s1 = raw.indexOf(' ')
  const s2 = raw.indexOf(' ', s1 + 1)
  const s3 = raw.indexOf(' ', s2 + 1)
  if (s1 < 0 || s2 < 0) return undefined
  const stamp = raw.slice(0, s1)
  const stream = raw.slice(s1 + 1, s2)
  if (stream !== 'stdout' && stream !== 'stderr') return undefined
  const flag = s3 < 0 ? raw.slice(s2 + 1) : raw.slice(s2 + 1, s3)
  const text = s3 < 0 ? '' : raw.slice(s3 + 1)
  const { iso, nanos } = normaliseStamp(stamp)
  return { stream, time: iso, nanos, partial: flag === 'P', text }
}

/** `2024-01-02T03:04:05.123456789+01:00` → UTC ISO with 9 fraction digits and unix nanoseconds. */
function normaliseStamp(stamp: string): { iso: string; nanos: bigint } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(stamp)
  if (!m) return { iso: stamp, nanos: 0n }
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9)
  const secondsMs = Date.parse(`${m[1]}${m[3]}`)
  const nanos = BigInt(secondsMs) * 1_000_000n + BigInt(frac)
  const iso = new Date(secondsMs).toISOString().slice(0, 19) + '.' + frac + 'Z'
  return { iso, nanos }
}

export interface ReadLogsOptions {
  follow: boolean
  /** Number of last lines; undefined for all. */
  tail?: number | undefined
  sinceNanos?: bigint | undefined
  untilNanos?: bigint | undefined
  /** Start reading at the file's current end (attach), not its beginning. */
  fromEnd?: boolean
  /** Resolves when following should stop (the container stopped); the rest of the file is still read. */
  stopped?: Promise<void> | undefined
  signal?: AbortSignal | undefined
}

/** Reads a container's log file as whole entries; with `follow`, keeps reading until `stopped`. */
export async function* readLogs(path: string, opts: ReadLogsOptions): AsyncGenerator<LogEntry> {
  let offset = 0
  if (opts.fromEnd) offset = await stat(path).then((s) => s.size, () => 0)
  let carry = ''
  let pending: LogEntry | undefined
  let first = true

  const readChunk = async (): Promise<string> => {
    let fh
    try {
      fh = await open(path, 'r')
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return ''
      throw err
    }
    try {
      const { size } = await fh.stat()
      if (size < offset) offset = 0 // truncated by rotation: start again
      if (size === offset) return ''
      const buf = Buffer.alloc(size - offset)
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset)
      offset += bytesRead
      return buf.subarray(0, bytesRead).toString('utf8')
    } finally {
      await fh.close()
    }
  }

  const parse = (text: string): LogEntry[] => {
    const out: LogEntry[] = []
    const lines = (carry + text).split('\n')
    carry = lines.pop() ?? ''
    for (const raw of lines) {
      const p = parseLogLine(raw)
      if (!p) continue
      if (pending && pending.stream === p.stream) pending.line += p.text
      else {
        if (pending) out.push(pending)
        pending = { stream: p.stream, time: p.time, nanos: p.nanos, line: p.text }
      }
      if (!p.partial) {
        pending.line += '\n'
        out.push(pending)
        pending = undefined
      }
    }
    return out
  }

  const keep = (e: LogEntry): boolean =>
    (opts.sinceNanos === undefined || e.nanos >= opts.sinceNanos) && (opts.untilNanos === undefined || e.nanos <= opts.untilNanos)

  let entries = parse(await readChunk()).filter(keep)
  if (first && opts.tail !== undefined) entries = opts.tail <= 0 ? [] : entries.slice(-opts.tail)
  first = false
  for (const e of entries) yield e
  if (!opts.follow) return

  let stopped = false
  let wake: (() => void) | undefined
  const nudge = (): void => wake?.()
  void opts.stopped?.then(() => {
    stopped = true
    nudge()
  })
  opts.signal?.addEventListener('abort', nudge)
  let watcher: FSWatcher | undefined
  const tryWatch = (): void => {
    if (watcher) return
    try {
      watcher = watch(path, nudge)
    } catch {
      // the file does not exist yet: the poll below picks it up
    }
  }
  try {
    for (;;) {
      if (opts.signal?.aborted) return
      tryWatch()
      const wasStopped = stopped
      const fresh = parse(await readChunk()).filter(keep)
      for (const e of fresh) yield e
      if (wasStopped) {
        if (pending) yield pending
        return
      }
      if (opts.untilNanos !== undefined && BigInt(Date.now()) * 1_000_000n > opts.untilNanos) return
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, 250).unref()
      })
    }
  } finally {
    watcher?.close()
    opts.signal?.removeEventListener('abort', nudge)
  }
}
