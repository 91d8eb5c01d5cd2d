import { type FSWatcher, watch } from 'node:fs'
import { open, readFile, readdir, stat } from 'node:fs/promises'
import { StringDecoder } from 'node:string_decoder'
import { basename, dirname } from 'node:path'
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

/** One k8s-file line. Without `times` the stamp is not decoded (time '' and nanos 0): most reads never show it. */
export function parseLogLine(raw: string, times = true): { stream: 'stdout' | 'stderr'; time: string; nanos: bigint; partial: boolean; text: string } | undefined {
  const s1 = raw.indexOf(' ')
  const s2 = raw.indexOf(' ', s1 + 1)
  const s3 = raw.indexOf(' ', s2 + 1)
  if (s1 < 0 || s2 < 0) return undefined
  const stamp = raw.slice(0, s1)
  const stream = raw.slice(s1 + 1, s2)
  if (stream !== 'stdout' && stream !== 'stderr') return undefined
  const flag = s3 < 0 ? raw.slice(s2 + 1) : raw.slice(s2 + 1, s3)
  const text = s3 < 0 ? '' : raw.slice(s3 + 1)
  if (!times) return { stream, time: '', nanos: 0n, partial: flag === 'P', text }
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
  /** Decode each entry's time (for --timestamps, since, until); false skips that cost. Default true. */
  times?: boolean
  /** Resolves when following should stop (the container stopped); the rest of the file is still read. */
  stopped?: Promise<void> | undefined
  signal?: AbortSignal | undefined
}

/** Reads a container's log file as whole entries; with `follow`, keeps reading until `stopped`. */
export async function* readLogs(path: string, opts: ReadLogsOptions): AsyncGenerator<LogEntry> {
  let offset = 0
  let inode: number | undefined
  if (opts.fromEnd) {
    const st = await stat(path).catch(() => undefined)
    offset = st?.size ?? 0
    inode = st?.ino
  }
  let carry = ''
  let pending: LogEntry | undefined
  const needTimes = (opts.times ?? true) || opts.sinceNanos !== undefined || opts.untilNanos !== undefined

  // A read is at most 4 MB, so a large log streams out rather than being held whole; the decoder keeps a
  // multi-byte character that straddles two reads.
  const maxRead = 4 * 1024 * 1024
  let decoder = new StringDecoder('utf8')
  const readFrom = async (file: string, from: number): Promise<{ text: string; end: number; ino: number } | undefined> => {
    let fh
    try {
      fh = await open(file, 'r')
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined
      throw err
    }
    try {
      const { size, ino } = await fh.stat()
      const start = size < from ? 0 : from // truncated: start again
      const buf = Buffer.alloc(Math.min(maxRead, Math.max(0, size - start)))
      const { bytesRead } = buf.length > 0 ? await fh.read(buf, 0, buf.length, start) : { bytesRead: 0 }
      return { text: decoder.write(buf.subarray(0, bytesRead)), end: start + bytesRead, ino }
    } finally {
      await fh.close()
    }
  }

  /** What is new since the last read. After a rotation the old file's rest comes first (it is now `<path>.1`). */
  const readChunk = async (): Promise<string> => {
    const current = await readFrom(path, offset)
    if (!current) return ''
    let before = ''
    if (inode !== undefined && current.ino !== inode) {
      decoder = new StringDecoder('utf8')
      const rotated = await readFrom(`${path}.1`, offset)
      if (rotated && rotated.ino === inode) before = rotated.text
      decoder = new StringDecoder('utf8')
      const fresh = await readFrom(path, 0)
      inode = fresh?.ino
      offset = fresh?.end ?? 0
      return before + (fresh?.text ?? '')
    }
    inode = current.ino
    offset = current.end
    return current.text
  }

  /** Rotated files (`<path>.N` … `<path>.1`), oldest first, for a read from the beginning. */
  const readRotated = async (): Promise<string> => {
    const dir = dirname(path)
    const base = basename(path)
    const rotated = (await readdir(dir).catch(() => []))
      .map((f) => (f.startsWith(`${base}.`) ? Number(f.slice(base.length + 1)) : NaN))
      .filter((n) => Number.isInteger(n) && n > 0)
      .sort((a, b) => b - a)
    let text = ''
    for (const n of rotated) text += (await readFile(`${path}.${n}`, 'utf8').catch(() => ''))
    return text
  }

  const parse = (text: string): LogEntry[] => {
    const out: LogEntry[] = []
    const lines = (carry + text).split('\n')
    carry = lines.pop() ?? ''
    for (const raw of lines) {
      const p = parseLogLine(raw, needTimes)
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

  // What is there already, read in bounded chunks; with a tail only the last entries are kept.
  let head = opts.fromEnd ? '' : await readRotated()
  const tail = opts.tail
  let ring: LogEntry[] = []
  for (;;) {
    const chunk = await readChunk()
    const entries = parse(head + chunk).filter(keep)
    head = ''
    if (tail === undefined) for (const e of entries) yield e
    else if (tail > 0) {
      ring.push(...entries)
      if (ring.length > tail * 2 + 1024) ring = ring.slice(-tail)
    }
    if (chunk.length === 0) break
  }
  if (tail !== undefined && tail > 0) for (const e of ring.slice(-tail)) yield e
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
