import { type FSWatcher, closeSync, constants, linkSync, openSync, renameSync, rmSync, statSync, watch, writeSync } from 'node:fs'
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
    const { maxSize, maxFile } = logFileLimits(cfg)
    if (!maxSize) return
    const logPath = rec.logPath
    const check = (): void => {
      try {
        shiftIfReplaced(logPath, maxFile)
      } catch (err) {
        this.#d.log.warn('log rotation failed', { container: id, err })
      }
    }
    // A log already past max-size (a restart appends to the last run's file, which conmon does not count): conmon
    // starts a new one now (message 2 on its control fifo), the held link keeping the old.
    try {
      check()
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
 * ones shift up and the oldest beyond max-file goes; then the new live file is held. All synchronous: a few
 * renames of local files take microseconds.
 */
function shiftIfReplaced(path: string, maxFile: number): void {
  const held = `${path}.held`
  let live
  try {
    live = statSync(path)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return
    throw err
  }
  const kept = statSync(held, { throwIfNoEntry: false })
  if (kept?.ino === live.ino) return
  if (kept) {
    // Keep max-file files in all: the live one and max-file - 1 rotated ones.
    rmSync(`${path}.${Math.max(1, maxFile - 1)}`, { force: true })
    for (let i = maxFile - 2; i >= 1; i--) {
      try {
        renameSync(`${path}.${i}`, `${path}.${i + 1}`)
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err
      }
    }
    if (maxFile > 1) renameSync(held, `${path}.1`)
    else rmSync(held, { force: true })
  }
  linkSync(path, held)
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
