import { constants } from 'node:fs'
import { open, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { EventBus } from '../events/bus.ts'
import { invalid } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { parseBytes } from '../lib/size.ts'
import type { ContainerService } from './service.ts'
import { ContainerTimers, followRunning } from './running-watch.ts'

const drivers = ['json-file', 'local', 'k8s-file', 'none']
const fileOptions = ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag']

/** Docker's checks of `--log-driver` and `--log-opt` at create. */
export function validateLogConfig(config: { Type: string; Config: Record<string, string> }): void {
  if (!drivers.includes(config.Type)) throw invalid(`logger: no log driver named '${config.Type}' is registered`)
  for (const [k, v] of Object.entries(config.Config)) {
    if (config.Type === 'none') throw invalid(`unknown log opt '${k}' for none log driver`)
    if (!fileOptions.includes(k)) throw invalid(`unknown log opt '${k}' for ${config.Type} log driver`)
    if (k === 'max-size' && (parseBytes(v) === undefined || parseBytes(v)! <= 0)) throw invalid(`invalid value for max-size: ${v}`)
    if (k === 'max-file' && (!/^\d+$/.test(v) || Number(v) < 1)) throw invalid('max-file cannot be less than 1')
  }
  if (config.Config['max-file'] && Number(config.Config['max-file']) > 1 && !config.Config['max-size']) {
    throw invalid('max-file cannot be set without max-size')
  }
}

/**
 * json-file rotation (`max-size`, `max-file`), done by caisd: when a running container's log reaches max-size it
 * becomes `<log>.1` (older ones shift up, the oldest beyond max-file goes) and conmon is told to reopen its log
 * (message 2 on its control fifo). Readers find the rotated files and follow across a rotation.
 */
export class LogRotator {
  readonly #d: { containers: ContainerService; events: EventBus; log: Logger }
  readonly #timers = new ContainerTimers()
  #unsubscribe: (() => void) | undefined

  constructor(deps: { containers: ContainerService; events: EventBus; log: Logger }) {
    this.#d = deps
  }

  start(): void {
    this.#unsubscribe = followRunning(this.#d.events, this.#d.containers, { begin: (id) => this.#watch(id), end: (id) => this.#timers.clear(id) })
  }

  close(): void {
    this.#unsubscribe?.()
    this.#timers.clearAll()
  }

  #watch(id: string): void {
    this.#timers.clear(id)
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
    let busy = false
    const timer = setInterval(() => {
      if (busy) return
      busy = true
      this.#check(logPath, ctl, maxSize, maxFile)
        .catch((err: unknown) => this.#d.log.warn('log rotation failed', { container: id, err }))
        .finally(() => (busy = false))
    }, 200)
    this.#timers.set(id, timer)
  }

  async #check(path: string, ctl: string, maxSize: number, maxFile: number): Promise<void> {
    const size = await stat(path).then((s) => s.size, () => 0)
    if (size < maxSize) return
    // Keep max-file files in all: the live one and max-file - 1 rotated ones.
    await rm(`${path}.${Math.max(1, maxFile - 1)}`, { force: true }).catch(() => {})
    for (let i = maxFile - 2; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => {})
    await rename(path, `${path}.1`)
    const fh = await open(ctl, constants.O_WRONLY | constants.O_NONBLOCK)
    try {
      await fh.write('2 0 0\n')
    } finally {
      await fh.close()
    }
    if (maxFile === 1) {
      // Only the live file is kept: let conmon reopen, then drop the old one.
      setTimeout(() => void rm(`${path}.1`, { force: true }), 500).unref()
    }
  }
}
