import { type FSWatcher, closeSync, constants, createReadStream, createWriteStream, linkSync, openSync, readdirSync, renameSync, rmSync, statSync, watch, writeSync } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import { basename, dirname, join } from 'node:path'
import type { EventBus } from '../events/bus.ts'
import { isErrno } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { logFileLimits } from './log-config.ts'
import type { ContainerService } from './service.ts'
import { ContainerTimers, followRunning } from './running-watch.ts'

/**
 * json-file rotation (`max-size`, `max-file`). conmon itself starts a new log file when a write would take the
 * live one past max-size (`--log-size-max`, see log-config.ts): synchronous with the writer, so no file passes
 * the limit however fast the container writes. conmon replaces the file by renaming a new one over it, which would
 * drop the old one's lines; caisd keeps a hard link to the live file (`<log>.held`), so the replaced file lives on
 * and becomes `<log>.1` (older ones shift up, the oldest beyond max-file goes) when caisd sees the new inode, at
 * the write the kernel reports next (inotify on the container's directory) or the slow poll behind it. Readers
 * find the rotated files and follow across a rotation.
 */
export class LogRotator {
  readonly #d: { containers: ContainerService; events: EventBus; log: Logger }
  readonly #timers = new ContainerTimers()
  readonly #watchers = new Map<string, FSWatcher>()
  #unsubscribe: (() => void) | undefined

  constructor(deps: { containers: ContainerService; events: EventBus; log: Logger }) {
    this.#d = deps
  }

  start(): void {
    // Watched from before the process runs (a fast writer fills several files before a `start` event); the running
    // ones at start-up through followRunning.
    const offStarting = this.#d.containers.onStarting((id) => this.#watch(id))
    const offRunning = followRunning(this.#d.events, this.#d.containers, {
      begin: (id, started) => {
        if (!started) this.#watch(id)
      },
      end: (id) => this.#stop(id),
    })
    this.#unsubscribe = () => {
      offStarting()
      offRunning()
    }
  }

  close(): void {
    this.#unsubscribe?.()
    this.#timers.clearAll()
    for (const w of this.#watchers.values()) w.close()
    this.#watchers.clear()
  }

  #stop(id: string): void {
    this.#timers.clear(id)
    this.#watchers.get(id)?.close()
    this.#watchers.delete(id)
  }

  #watch(id: string): void {
    this.#stop(id)
    let rec
    try {
      rec = this.#d.containers.get(id)
    } catch {
      return
    }
    const cfg = rec.hostConfig.LogConfig
    if (cfg.Type === 'none') return
    const { maxSize, maxFile, compress } = logFileLimits(cfg)
    if (!maxSize) return
    const logPath = rec.logPath
    let compressing = false
    // Rotated files but the newest are kept gzipped, as Docker's `compress`: one at a time, in the background, while
    // the shifts go on (they must: conmon's next file would otherwise replace one nobody holds).
    const compressNext = (): void => {
      if (compressing || !compress) return
      const plain = rotatedPlainFiles(logPath).filter((n) => n >= 2).sort((a, b) => a - b)
      if (plain.length === 0) return
      compressing = true
      gzipRotated(logPath, plain[0]!)
        .catch((err: unknown) => {
          if (!isErrno(err, 'ENOENT')) this.#d.log.warn('log compression failed', { container: id, err })
        })
        .finally(() => {
          compressing = false
          compressNext()
        })
    }
    const check = (): void => {
      try {
        if (shiftIfReplaced(logPath, maxFile)) compressNext()
      } catch (err) {
        this.#d.log.warn('log rotation failed', { container: id, err })
      }
    }
    // A log already past max-size (a restart appends to the last run's file, which conmon does not count): conmon
    // starts a new one now (message 2 on its control fifo), the held link keeping the old.
    try {
      check()
      compressNext()
      if (statSync(logPath).size >= maxSize) reopenLog(join(this.#d.containers.bundlePath(id), 'ctl'))
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) this.#d.log.warn('log rotation failed', { container: id, err })
    }
    try {
      const file = basename(logPath)
      const watcher = watch(dirname(logPath), (_event, name) => {
        if (name === file) check()
      })
      watcher.on('error', () => watcher.close())
      this.#watchers.set(id, watcher)
    } catch {
      // no inotify here: the poll alone
    }
    this.#timers.set(id, setInterval(check, 1000))
  }
}

/**
 * When conmon has replaced `<log>` (its inode is no longer the held one), the held file becomes `<log>.1`, older
 * ones (`.N` or `.N.gz`) shift up and the oldest beyond max-file goes; then the new live file is held. All
 * synchronous: a few renames of local files take microseconds. True when it shifted.
 */
function shiftIfReplaced(path: string, maxFile: number): boolean {
  const held = `${path}.held`
  let live
  try {
    live = statSync(path)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false
    throw err
  }
  const kept = statSync(held, { throwIfNoEntry: false })
  if (kept?.ino === live.ino) return false
  if (kept) {
    // Keep max-file files in all: the live one and max-file - 1 rotated ones.
    for (const suffix of ['', '.gz']) rmSync(`${path}.${Math.max(1, maxFile - 1)}${suffix}`, { force: true })
    for (let i = maxFile - 2; i >= 1; i--) {
      for (const suffix of ['', '.gz']) {
        try {
          renameSync(`${path}.${i}${suffix}`, `${path}.${i + 1}${suffix}`)
        } catch (err) {
          if (!isErrno(err, 'ENOENT')) throw err
        }
      }
    }
    if (maxFile > 1) renameSync(held, `${path}.1`)
    else rmSync(held, { force: true })
  }
  linkSync(path, held)
  return kept !== undefined
}

/** The numbers N of the rotated files not compressed yet (`<log>.N`). */
function rotatedPlainFiles(path: string): number[] {
  const base = basename(path)
  return readdirSync(dirname(path))
    .map((f) => (f.startsWith(`${base}.`) ? Number(f.slice(base.length + 1)) : NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
}

/**
 * Gzips the rotated file `<log>.N`. Shifts may rename it meanwhile: it is found again by its inode once packed,
 * and the packed one takes its current number (all in one synchronous step, which no shift can come between); one
 * shifted out of max-file meanwhile is gone, and so is its packed copy.
 */
async function gzipRotated(path: string, n: number): Promise<void> {
  const file = `${path}.${n}`
  const ino = statSync(file).ino
  const tmp = join(dirname(path), `.${basename(path)}.${ino}.gz.tmp`)
  try {
    await pipeline(createReadStream(file), createGzip(), createWriteStream(tmp))
    const now = rotatedPlainFiles(path).find((m) => statSync(`${path}.${m}`, { throwIfNoEntry: false })?.ino === ino)
    if (now === undefined) return
    renameSync(tmp, `${path}.${now}.gz`)
    rmSync(`${path}.${now}`, { force: true })
  } finally {
    rmSync(tmp, { force: true })
  }
}

/** Asks conmon to start a new log file (message 2 on its control fifo). */
function reopenLog(ctl: string): void {
  const fd = openSync(ctl, constants.O_WRONLY | constants.O_NONBLOCK)
  try {
    writeSync(fd, '2 0 0\n')
  } finally {
    closeSync(fd)
  }
}
