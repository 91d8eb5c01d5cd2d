import { type ChildProcess, spawn } from 'node:child_process'
import { type Socket as DatagramSocket, createSocket } from 'node:dgram'
import { existsSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { hostname } from 'node:os'
import type { Writable } from 'node:stream'
import type { EventBus } from '../events/bus.ts'
import { messageOf } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { parseBytes } from '../lib/size.ts'
import { type LogPosition, entryText, logEnd, readLogs } from './logs.ts'
import type { ContainerRecord } from './record.ts'
import { followRunning } from './running-watch.ts'
import type { ContainerService } from './service.ts'
import {
  type SyslogAddress,
  type SyslogLayout,
  type SyslogLine,
  expandLogTag,
  formatSyslog,
  frameSyslog,
  parseSyslogAddress,
  parseSyslogFacility,
  parseSyslogFormat,
  syslogPriority,
} from './syslog-format.ts'

/** Bytes waiting for the target before a blocking-mode forwarder stops reading the log, until they drain. */
const highWater = 256 * 1024
/** Docker's default `max-buffer-size` for `mode=non-blocking`. */
const defaultMaxBuffer = 1024 * 1024

/**
 * The syslog driver: each line a container writes to its log file (conmon's, which `logs` reads too) is sent to
 * the syslog target as it comes. The container never waits on the target: conmon writes the file, and this reads
 * it. In `mode=non-blocking`, what the target cannot take beyond `max-buffer-size` is dropped and counted; in the
 * default blocking mode, reading waits for the target. A target that goes away is dialled again, with a backoff.
 */
export class SyslogForwarder {
  readonly #d: { containers: ContainerService; events: EventBus; log: Logger }
  readonly #shipments = new Map<string, AbortController>()
  #unsubscribe: (() => void) | undefined

  constructor(deps: { containers: ContainerService; events: EventBus; log: Logger }) {
    this.#d = deps
  }

  start(): void {
    const offStarting = this.#d.containers.onStarting((id) => {
      const rec = this.#syslogRecord(id)
      if (!rec) return
      // From the end of what earlier runs wrote, taken now, before the process runs: synchronously, since the
      // start goes on as soon as this returns.
      const st = statSync(rec.logPath, { throwIfNoEntry: false })
      void this.#ship(rec, { offset: st?.size ?? 0, inode: st?.ino }, this.#d.containers.nextStop(id))
    })
    const offRunning = followRunning(this.#d.events, this.#d.containers, {
      begin: (id, started) => {
        const rec = started ? undefined : this.#syslogRecord(id)
        // Running when the daemon started: what it wrote while the daemon was down is not sent.
        if (rec) void logEnd(rec.logPath).then((from) => this.#ship(rec, from, this.#d.containers.stopped(id)))
      },
      end: () => {},
    })
    const { unsubscribe } = this.#d.events.subscribe((e) => {
      if (e.Type === 'container' && e.Action === 'destroy') this.#stop(e.Actor.ID)
    })
    this.#unsubscribe = () => {
      offStarting()
      offRunning()
      unsubscribe()
    }
  }

  close(): void {
    this.#unsubscribe?.()
    for (const id of [...this.#shipments.keys()]) this.#stop(id)
  }

  /**
   * Before a container with the syslog driver starts: its target must answer, or the start fails, as Docker's
   * does when it cannot create the logger. A datagram target cannot tell; its socket file must exist.
   */
  async check(rec: ContainerRecord): Promise<void> {
    if (rec.hostConfig.LogConfig.Type !== 'syslog') return
    const address = parseSyslogAddress(rec.hostConfig.LogConfig.Config['syslog-address'])
    if (address.kind === 'udp') return
    if (address.kind === 'unixgram') {
      if (!existsSync(address.path)) throw new Error(`failed to initialize logging driver: dial unixgram ${address.path}: connect: no such file or directory`)
      return
    }
    await new Promise<void>((resolve, reject) => {
      const socket = address.kind === 'tcp' ? connect(address.port, address.host) : connect(address.path)
      const fail = (err: Error): void => {
        socket.destroy()
        reject(new Error(`failed to initialize logging driver: dial ${address.kind} ${describe(address)}: ${messageOf(err)}`))
      }
      socket.setTimeout(5000, () => fail(new Error('i/o timeout')))
      socket.once('error', fail)
      socket.once('connect', () => {
        socket.destroy()
        resolve()
      })
    })
  }

  #syslogRecord(id: string): ContainerRecord | undefined {
    try {
      const rec = this.#d.containers.get(id)
      return rec.hostConfig.LogConfig.Type === 'syslog' ? rec : undefined
    } catch {
      return undefined
    }
  }

  #stop(id: string): void {
    this.#shipments.get(id)?.abort()
    this.#shipments.delete(id)
  }

  /** Sends what the log gets from `from` on, until `stopped` and the rest of the file is read. */
  async #ship(rec: ContainerRecord, from: LogPosition, stopped: Promise<void>): Promise<void> {
    this.#stop(rec.id)
    const abort = new AbortController()
    this.#shipments.set(rec.id, abort)
    const o = rec.hostConfig.LogConfig.Config
    const format = parseSyslogFormat(o['syslog-format'])
    const address = parseSyslogAddress(o['syslog-address'])
    const nonBlocking = o['mode'] === 'non-blocking'
    const tag = expandLogTag(o['tag'], { id: rec.id, name: rec.name, image: rec.config.Image, imageId: rec.imageId, daemonName: 'cais' })
    const layout = { format, facility: parseSyslogFacility(o['syslog-facility']), tag, hostname: hostname(), pid: process.pid }
    const sink = new SyslogSink(address, layout, { maxBuffer: nonBlocking ? (parseBytes(o['max-buffer-size'] ?? '') ?? defaultMaxBuffer) : undefined, log: this.#d.log.child({ container: rec.id }) })
    let dropped = 0
    try {
      const lines = readLogs(rec.logPath, { follow: true, from, times: true, stopped, signal: abort.signal })
      for await (const batch of lines) {
        for (const e of batch) {
          const sent = sink.send({ stream: e.stream, time: new Date(Number(e.nanos / 1_000_000n)), text: entryText(e).toString('utf8') })
          if (!sent) {
            if (dropped === 0) this.#d.log.warn('syslog: the target is not keeping up; dropping lines (mode=non-blocking)', { container: rec.id })
            dropped++
          }
        }
        if (!nonBlocking) await sink.room(abort.signal)
      }
      await sink.flush(abort.signal, 5000)
    } catch (err) {
      if (!abort.signal.aborted) this.#d.log.warn('syslog forwarding stopped', { container: rec.id, err: messageOf(err) })
    } finally {
      sink.close()
      if (this.#shipments.get(rec.id) === abort) this.#shipments.delete(rec.id)
      if (dropped > 0) this.#d.log.warn('syslog: lines dropped (mode=non-blocking, target slow or away)', { container: rec.id, dropped })
    }
  }
}

const describe = (a: SyslogAddress): string => ('path' in a ? a.path : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`)

/**
 * One container's connection to its syslog target. Streams (tcp, unix, and the `logger` helper for the local
 * datagram socket, which Node cannot open) queue what they cannot write yet; datagrams go at once.
 */
class SyslogSink {
  readonly #address: SyslogAddress
  readonly #layout: SyslogLayout
  readonly #maxBuffer: number | undefined
  readonly #log: Logger
  readonly #queue: Buffer[] = []
  #queued = 0
  #out: Writable | undefined
  #dgram: DatagramSocket | undefined
  #helper: ChildProcess | undefined
  #draining = false
  #closed = false
  #retryMs = 500
  #retry: NodeJS.Timeout | undefined
  readonly #waiters = new Set<() => void>()

  constructor(address: SyslogAddress, layout: SyslogLayout, o: { maxBuffer: number | undefined; log: Logger }) {
    this.#address = address
    this.#layout = layout
    this.#maxBuffer = o.maxBuffer
    this.#log = o.log
    if (address.kind === 'udp') {
      this.#dgram = createSocket(address.host.includes(':') ? 'udp6' : 'udp4')
      this.#dgram.on('error', () => {})
      this.#dgram.unref()
    } else this.#dial()
  }

  /** Queues one line; false when it was dropped (non-blocking, buffer full). */
  send(line: SyslogLine): boolean {
    const a = this.#address
    if (a.kind === 'udp') {
      this.#dgram!.send(frameSyslog(formatSyslog(line, this.#layout), this.#layout.format, false), a.port, a.host)
      return true
    }
    // The logger helper reads `<PRI>text` lines, and stamps and tags them itself.
    const frame =
      a.kind === 'unixgram'
        ? Buffer.from(`<${syslogPriority(line, this.#layout)}>${line.text.endsWith('\n') ? line.text : `${line.text}\n`}`)
        : frameSyslog(formatSyslog(line, this.#layout), this.#layout.format, true)
    if (this.#maxBuffer !== undefined && this.#queued + frame.length > this.#maxBuffer) return false
    this.#queue.push(frame)
    this.#queued += frame.length
    this.#pump()
    return true
  }

  /** Resolves when the queue is below the high-water mark (blocking mode). */
  room(signal: AbortSignal): Promise<void> {
    return this.#until(() => this.#queued < highWater, signal)
  }

  /** Resolves when everything queued is written, or after `ms`. */
  flush(signal: AbortSignal, ms: number): Promise<void> {
    const timer = new AbortController()
    const t = setTimeout(() => timer.abort(), ms)
    return this.#until(() => this.#queued === 0 || this.#closed, AbortSignal.any([signal, timer.signal])).catch(() => {}).finally(() => clearTimeout(t))
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#retry)
    this.#dgram?.close()
    this.#out?.end()
    this.#helper?.kill()
    for (const w of this.#waiters) w()
  }

  #until(ready: () => boolean, signal: AbortSignal): Promise<void> {
    if (ready()) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const settle = (outcome: () => void): void => {
        this.#waiters.delete(check)
        signal.removeEventListener('abort', check)
        outcome()
      }
      const check = (): void => {
        if (signal.aborted) settle(() => reject(new Error('aborted')))
        else if (ready() || this.#closed) settle(resolve)
      }
      this.#waiters.add(check)
      signal.addEventListener('abort', check, { once: true })
    })
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w()
  }

  #pump(): void {
    const out = this.#out
    while (out && !this.#draining && this.#queue.length > 0) {
      const frame = this.#queue.shift()!
      this.#queued -= frame.length
      if (!out.write(frame)) {
        this.#draining = true
        out.once('drain', () => {
          this.#draining = false
          this.#pump()
        })
      }
    }
    this.#wake()
  }

  #dial(): void {
    if (this.#closed) return
    const a = this.#address
    if (a.kind === 'unixgram') {
      const format = this.#layout.format === 'rfc5424' || this.#layout.format === 'rfc5424micro' ? '--rfc5424=notq' : '--rfc3164'
      const helper = spawn('logger', ['--socket', a.path, '--socket-errors=on', '--prio-prefix', format, '-t', this.#layout.tag], { stdio: ['pipe', 'ignore', 'ignore'] })
      this.#helper = helper
      this.#out = helper.stdin
      helper.stdin.on('error', () => {})
      let ended = false
      const end = (err?: unknown): void => {
        if (ended) return
        ended = true
        this.#redial({ err })
      }
      helper.once('exit', (code) => end(code === 0 ? undefined : new Error(`logger exited with ${code}`)))
      helper.once('error', end)
      this.#pump()
      return
    }
    if (a.kind === 'udp') return
    const socket = a.kind === 'tcp' ? connect(a.port, a.host) : connect(a.path)
    socket.setNoDelay(true)
    socket.unref()
    socket.once('connect', () => {
      this.#retryMs = 500
      this.#out = socket
      this.#pump()
    })
    socket.on('error', () => {})
    // A target that was up is lost (and said so); one that never answered is dialled again quietly.
    socket.once('close', () => this.#redial(this.#out === socket ? {} : undefined))
  }

  /** Forgets the connection and dials again after a backoff that doubles up to 30 s. */
  #redial(lost: { err?: unknown } | undefined): void {
    this.#out = undefined
    this.#helper = undefined
    this.#draining = false
    if (this.#closed) return
    if (lost) this.#log.warn('syslog target lost; dialling again', { target: describe(this.#address), err: lost.err === undefined ? undefined : messageOf(lost.err), retryMs: this.#retryMs })
    this.#retry = setTimeout(() => this.#dial(), this.#retryMs)
    this.#retry.unref()
    this.#retryMs = Math.min(this.#retryMs * 2, 30_000)
  }
}
