import { type FSWatcher, constants, watch } from 'node:fs'
import { type FileHandle, open, readFile, readdir, stat } from 'node:fs/promises'
import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import { basename, dirname } from 'node:path'
import { isErrno } from '../lib/errors.ts'

/**
 * Container logs as conmon writes them (k8s-file): one line per write chunk,
 * `<RFC3339Nano time> <stdout|stderr> <P|F> <text>`, where P marks a partial line continued by the next.
 * Readers join partials back into whole lines, as Docker's json-file keeps them. Lines stay bytes from the
 * file to the socket: a 100 MB log is a million lines, and a string per line costs more than the read.
 */
export interface LogEntry {
  stream: 'stdout' | 'stderr'
  /** RFC3339 with nanoseconds, UTC, as Docker prints with --timestamps; '' when times were not asked for. */
  time: string
  /** Unix nanoseconds, for since/until. */
  nanos: bigint
  /**
   * The text including its trailing newline, when it had one: `bytes[start, end)`. Offsets rather than a view
   * per line, which would be a million objects for a 100 MB log.
   */
  bytes: Buffer
  start: number
  end: number
}

/** An entry's text, as a view of its bytes. */
export const entryText = (e: LogEntry): Buffer => e.bytes.subarray(e.start, e.end)

const SPACE = 0x20
const NEWLINE = 0x0a

interface LineHead {
  stream: 'stdout' | 'stderr'
  time: string
  nanos: bigint
  partial: boolean
  /** Where the text begins in the buffer. */
  textStart: number
}

/** The fields before the text of the k8s-file line `buf[start, end)` (no newline); undefined when it is not one. */
function parseHead(buf: Buffer, start: number, end: number, times: boolean): LineHead | undefined {
  const s1 = buf.indexOf(SPACE, start)
  if (s1 < 0 || s1 >= end) return undefined
  // "stdout" and "stderr" are both six bytes: the stream is told by its fifth letter.
  const s2 = s1 + 7
  if (s2 >= end || buf[s2] !== SPACE || buf[s1 + 1] !== 0x73 /* s */ || buf[s1 + 2] !== 0x74 /* t */ || buf[s1 + 3] !== 0x64 /* d */) return undefined
  const stream = buf[s1 + 4] === 0x6f /* o */ ? 'stdout' : buf[s1 + 4] === 0x65 /* e */ ? 'stderr' : undefined
  if (!stream) return undefined
  const partial = buf[s2 + 1] === 0x50 /* P */
  const textStart = Math.min(s2 + 3, end)
  if (!times) return { stream, time: '', nanos: 0n, partial, textStart }
  const { iso, nanos } = normaliseStamp(buf.toString('latin1', start, s1))
  return { stream, time: iso, nanos, partial, textStart }
}

/** One k8s-file line (without its newline). */
export function parseLogLine(line: Buffer): { stream: 'stdout' | 'stderr'; time: string; nanos: bigint; partial: boolean; text: Buffer } | undefined {
  const h = parseHead(line, 0, line.length, true)
  return h && { stream: h.stream, time: h.time, nanos: h.nanos, partial: h.partial, text: line.subarray(h.textStart) }
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
  /** Start reading there (an attach: where the log ended when it came), not at the beginning. */
  from?: LogPosition | undefined
  /** Decode each entry's time (for --timestamps, since, until); false skips that cost. Default true. */
  times?: boolean
  /**
   * Each partial line as it was written, not joined to the rest of its line: an attach or a terminal shows a prompt
   * (which has no newline) at once, as Docker's raw streams do.
   */
  partials?: boolean
  /** Resolves when following should stop (the container stopped); the rest of the file is still read. */
  stopped?: Promise<void> | undefined
  signal?: AbortSignal | undefined
}

/** A point in a log file: its size then, and the file (a rotation replaces it). */
export interface LogPosition {
  offset: number
  inode: number | undefined
}

/** Where the log ends now. Taken before a client is told to go on, so nothing written after is missed. */
export async function logEnd(path: string): Promise<LogPosition> {
  const st = await stat(path).catch(() => undefined)
  return { offset: st?.size ?? 0, inode: st?.ino }
}

const gunzipAsync = promisify(gunzip)

/** A read is at most 4 MB, so a large log streams out rather than being held whole. */
const maxRead = 4 * 1024 * 1024

/**
 * Reads whole lines of a file into one buffer that is used again for every read, so memory stays at one read
 * however large the log (fresh 4 MB buffers live on until a full GC, hundreds of MB for one `docker logs`).
 */
class LineReader {
  #scratch = Buffer.alloc(0)

  /** Whole lines of `file` from byte `from` (see readOpen); undefined when there is no such file. */
  async read(file: string, from: number): Promise<{ buf: Buffer; next: number; ino: number } | undefined> {
    const fh = await openIfThere(file, false)
    if (!fh) return undefined
    try {
      return await this.readOpen(fh, from)
    } finally {
      await fh.close()
    }
  }

  /**
   * Whole lines of an open file from byte `from`: the bytes up to the last newline (valid until the next call),
   * where the next read starts, and the file's inode.
   */
  async readOpen(fh: FileHandle, from: number): Promise<{ buf: Buffer; next: number; ino: number }> {
    const { size, ino } = await fh.stat()
    const start = size < from ? 0 : from // truncated: start again
    for (let want = maxRead; ; want *= 2) {
      const length = Math.min(want, Math.max(0, size - start))
      if (this.#scratch.length < length) this.#scratch = Buffer.allocUnsafe(length)
      const { bytesRead } = length > 0 ? await fh.read(this.#scratch, 0, length, start) : { bytesRead: 0 }
      const last = bytesRead > 0 ? this.#scratch.lastIndexOf(NEWLINE, bytesRead - 1) : -1
      // A line longer than the read (conmon splits long lines, so only a torn file has one): read more at once.
      if (last < 0 && bytesRead === want) continue
      // An unfinished last line is read again, whole, the next time.
      return { buf: this.#scratch.subarray(0, last + 1), next: start + last + 1, ino }
    }
  }
}

/** `file` opened for reading; undefined when it is not there. `create` makes an empty one instead. */
async function openIfThere(file: string, create: boolean): Promise<FileHandle | undefined> {
  try {
    return await open(file, create ? constants.O_RDONLY | constants.O_CREAT : constants.O_RDONLY, 0o640)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    throw err
  }
}

/**
 * Reads a container's log file as batches of whole entries (up to 1024 a batch: a million lines are a thousand
 * awaits, not a million); with `follow`, keeps reading until `stopped`. An entry's bytes may be the read
 * buffer: it is valid until the generator is resumed, so a consumer that keeps it copies it.
 */
export async function* readLogs(path: string, opts: ReadLogsOptions): AsyncGenerator<LogEntry[]> {
  const reader = new LineReader()
  let offset = opts.from?.offset ?? 0
  let inode = opts.from?.inode
  let pending: LogEntry | undefined
  const needTimes = (opts.times ?? true) || opts.sinceNanos !== undefined || opts.untilNanos !== undefined
  const keep = (e: LogEntry): boolean =>
    (opts.sinceNanos === undefined || e.nanos >= opts.sinceNanos) && (opts.untilNanos === undefined || e.nanos <= opts.untilNanos)

  // Batches of at most 1024 entries: a whole 4 MB read at once (30k entries) outlives a young-generation GC
  // while it is written out, and every such batch would be promoted to the old generation.
  const batchSize = 1024
  const parse = function* (buf: Buffer): Generator<LogEntry[]> {
    let out: LogEntry[] = []
    const push = (e: LogEntry): void => {
      if (keep(e)) out.push(e)
    }
    for (let at = 0; at < buf.length; ) {
      let nl = buf.indexOf(NEWLINE, at)
      if (nl < 0) nl = buf.length
      const h = parseHead(buf, at, nl, needTimes)
      at = nl + 1
      if (!h) continue
      // A whole line keeps its newline; a partial one continues in the next line's text.
      const end = h.partial ? nl : Math.min(nl + 1, buf.length)
      if (opts.partials) {
        push({ stream: h.stream, time: h.time, nanos: h.nanos, bytes: buf, start: h.textStart, end })
      } else if (pending && pending.stream === h.stream) {
        const joined = Buffer.concat([entryText(pending), buf.subarray(h.textStart, end)])
        pending.bytes = joined
        pending.start = 0
        pending.end = joined.length
      } else {
        if (pending) push(pending)
        pending = { stream: h.stream, time: h.time, nanos: h.nanos, bytes: buf, start: h.textStart, end }
      }
      if (!opts.partials && !h.partial) {
        push(pending!)
        pending = undefined
      }
      if (out.length >= batchSize) {
        yield out
        out = []
      }
    }
    // A line continued in the next read: its start must outlive this buffer.
    if (pending?.bytes === buf) {
      pending.bytes = Buffer.from(entryText(pending))
      pending.end -= pending.start
      pending.start = 0
    }
    if (out.length > 0) yield out
  }

  /**
   * The file being read, kept open: what it holds stays readable when its directory is renamed away (an `rm` of
   * the container racing a follower's last read) and when a rotation replaces it (its rest is read first).
   * A follower makes the file if it is not there yet (an attach before the first start), so it holds it from then on.
   */
  let current: { fh: FileHandle; ino: number } | undefined

  /** What is new in the log since the last read. After a rotation the old file's rest comes first. */
  const readChunk = async (): Promise<Buffer | undefined> => {
    if (!current) {
      const fh = await openIfThere(path, opts.follow === true)
      if (!fh) return undefined
      current = { fh, ino: (await fh.stat()).ino }
      if (inode !== undefined && current.ino !== inode) {
        // Rotated between the position being taken and this open: the old file is `<path>.1` now.
        const rotated = await reader.read(`${path}.1`, offset)
        // Copied: the next read reuses the buffer.
        const rest = rotated?.ino === inode ? Buffer.from(rotated.buf) : undefined
        const fresh = await reader.readOpen(current.fh, 0)
        inode = current.ino
        offset = fresh.next
        return rest ? Buffer.concat([rest, fresh.buf]) : fresh.buf
      }
      inode = current.ino
    }
    const r = await reader.readOpen(current.fh, offset)
    offset = r.next
    if (r.buf.length > 0) return r.buf
    // All of the open file is read: if the path names another file now (rotated), go on from that one's start.
    const now = await stat(path).catch(() => undefined)
    if (now === undefined || now.ino === current.ino) return r.buf
    await current.fh.close()
    current = undefined
    inode = undefined
    offset = 0
    return readChunk()
  }

  /** Rotated files (`<path>.N[.gz]` … `<path>.1`), oldest first, for a read from the beginning. */
  const rotatedFiles = async (): Promise<string[]> => {
    const dir = dirname(path)
    const base = basename(path)
    return (await readdir(dir).catch(() => []))
      .map((f) => /^\.(\d+)(\.gz)?$/.exec(f.startsWith(base) ? f.slice(base.length) : ''))
      .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) > 0)
      .sort((a, b) => Number(b[1]) - Number(a[1]))
      .map((m) => `${path}${m[0]}`)
  }

  // What is there already, read in bounded chunks; with a tail only the last entries are kept.
  const tail = opts.tail
  let ring: LogEntry[] = []
  const emit = function* (entries: LogEntry[]): Generator<LogEntry[]> {
    if (tail === undefined) {
      if (entries.length > 0) yield entries
    } else if (tail > 0) {
      // Only the last `tail` of a batch can be kept; they are copied out of the read buffer.
      for (const e of entries.slice(-tail)) ring.push({ ...e, bytes: Buffer.from(entryText(e)), start: 0, end: e.end - e.start })
      if (ring.length > tail * 2 + 1024) ring = ring.slice(-tail)
    }
  }
  try {
    if (!opts.from) {
      for (const file of await rotatedFiles()) {
        // A compressed one (`compress`, at most max-size unpacked) is read whole.
        if (file.endsWith('.gz')) {
          const packed = await readFile(file).catch(() => undefined)
          if (packed) for (const batch of parse(await gunzipAsync(packed))) yield* emit(batch)
          continue
        }
        for (let from = 0; ; ) {
          const r = await reader.read(file, from)
          if (!r || r.buf.length === 0) break
          from = r.next
          for (const batch of parse(r.buf)) yield* emit(batch)
        }
      }
    }
    for (;;) {
      const chunk = await readChunk()
      if (!chunk || chunk.length === 0) break
      for (const batch of parse(chunk)) yield* emit(batch)
    }
    // A last line with no newline (`printf x`) is still the container's output: a read that does not follow
    // ends with it rather than waiting for a rest that may never come.
    if (!opts.follow && pending) {
      const last = pending
      pending = undefined
      if (keep(last)) yield* emit([last])
    }
    if (tail !== undefined && tail > 0 && ring.length > 0) yield ring.slice(-tail)
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
        // Everything already written, in as many reads as it takes, before waiting again.
        for (let chunk = await readChunk(); chunk && chunk.length > 0; chunk = await readChunk()) {
          yield* parse(chunk)
          if (opts.signal?.aborted) return
        }
        if (wasStopped) {
          if (pending) yield [pending]
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
  } finally {
    await current?.fh.close()
  }
}
