import { type FSWatcher, closeSync, constants, openSync, renameSync, rmSync, statSync, watch, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { EventBus } from '../events/bus.ts'
import { isErrno } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { parseBytes } from '../lib/size.ts'
import type { ContainerService } from './service.ts'
import { ContainerTimers, followRunning } from './running-watch.ts'

/**
 * json-file rotation (`max-size`, `max-file`), done by caisd: when a running container's log reaches max-size it
 * becomes `<log>.1` (older ones shift up, the oldest beyond max-file goes) and conmon is told to reopen its log
 * (message 2 on its control fifo). The size is checked at each write the kernel reports (inotify on the
 * container's directory, which outlives the renames), with a slow poll behind it. Readers find the rotated files
 * and follow across a rotation.
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
    // Watched from before the process runs (a fast writer passes max-size many times over before a `start` event);
    // the running ones at start-up through followRunning.
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
    const maxSize = cfg.Type === 'none' ? undefined : parseBytes(cfg.Config['max-size'] ?? '')
    if (!maxSize) return
    const maxFile = Number(cfg.Config['max-file'] ?? '1') || 1
    const logPath = rec.logPath
    const ctl = join(this.#d.containers.bundlePath(id), 'ctl')
    const check = (): void => {
      // All synchronous: a stat and a few renames of local files take microseconds, where each trip through
      // libuv's pool let a fast writer add megabytes past max-size.
      try {
        if (statSync(logPath).size < maxSize) return
        rotate(logPath, ctl, maxFile)
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) this.#d.log.warn('log rotation failed', { container: id, err })
      }
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
    check()
  }

}

/** `<log>` becomes `<log>.1` (older ones shift up, the oldest beyond max-file goes), and conmon opens a new one. */
function rotate(path: string, ctl: string, maxFile: number): void {
  // Keep max-file files in all: the live one and max-file - 1 rotated ones.
  rmSync(`${path}.${Math.max(1, maxFile - 1)}`, { force: true })
  for (let i = maxFile - 2; i >= 1; i--) {
    try {
      renameSync(`${path}.${i}`, `${path}.${i + 1}`)
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err
    }
  }
  renameSync(path, `${path}.1`)
  const fd = openSync(ctl, constants.O_WRONLY | constants.O_NONBLOCK)
  try {
    writeSync(fd, '2 0 0\n')
  } finally {
    closeSync(fd)
  }
  if (maxFile === 1) {
    // Only the live file is kept: let conmon reopen, then drop the old one.
    setTimeout(() => rmSync(`${path}.1`, { force: true }), 500).unref()
  }
}
