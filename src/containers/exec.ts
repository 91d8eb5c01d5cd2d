import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { EventBus } from '../events/bus.ts'
import { conflict, invalid, notFound, CaisError } from '../lib/errors.ts'
import { newId } from '../lib/ids.ts'
import type { Runtime } from '../runtime/runtime.ts'
import { capabilitySet } from '../runtime/spec.ts'
import { openStdin, resizeTerminal } from '../runtime/stdin.ts'
import { entryText, readLogs } from './logs.ts'
import type { ContainerService } from './service.ts'
import { resolveUser } from './user.ts'
import { consoleSizeOf, mergeEnv } from './create-config.ts'

export interface ExecConfig {
  Cmd: string[]
  Env?: string[] | null
  User?: string
  WorkingDir?: string
  Privileged?: boolean
  Tty?: boolean
  AttachStdin?: boolean
  AttachStdout?: boolean
  AttachStderr?: boolean
  DetachKeys?: string
  /** `[height, width]` of the client's terminal, for a TTY exec. */
  ConsoleSize?: [number, number] | null
}

interface ExecRecord {
  id: string
  containerId: string
  config: ExecConfig
  running: boolean
  exitCode: number | null
  pid: number
  started: boolean
  /** crun writes the exec'd process's host PID here while it runs. */
  pidFile?: string
  /** A TTY exec's terminal size, as last asked for (at create, at start, by a resize). */
  terminalSize?: { height: number; width: number }
  /** A TTY exec's conmon reads its control fifo: a resize can be applied now rather than kept for later. */
  terminalReady?: boolean
}

export interface ExecIo {
  stdin?: Readable | undefined
  output(stream: 'stdout' | 'stderr', chunk: Buffer): void
}

/**
 * `docker exec`: a process started in a running container's namespaces with `crun exec`.
 * Exec instances live in memory, as Docker's do.
 */
export class ExecService {
  readonly #execs = new Map<string, ExecRecord>()
  readonly #containers: ContainerService
  readonly #events: EventBus
  readonly #runtime: Runtime
  /** One directory per TTY exec session: its process spec, log, attach socket and control fifo. */
  readonly #sessionsDir: string

  constructor(deps: { containers: ContainerService; events: EventBus; runtime: Runtime; sessionsDir: string }) {
    this.#containers = deps.containers
    this.#events = deps.events
    this.#runtime = deps.runtime
    this.#sessionsDir = deps.sessionsDir
  }

  create(containerRef: string, config: ExecConfig): string {
    if (!config || !Array.isArray(config.Cmd) || config.Cmd.length === 0) throw invalid('No exec command specified')
    const c = this.#containers.get(containerRef)
    if (!c.state.Running) throw conflict(`container ${c.id} is not running`)
    if (c.state.Paused) throw conflict(`Container ${c.id} is paused, unpause the container before exec`)
    const id = newId()
    const size = config.Tty ? consoleSizeOf(config.ConsoleSize) : undefined
    this.#execs.set(id, {
      id,
      containerId: c.id,
      config,
      running: false,
      exitCode: null,
      pid: 0,
      started: false,
      ...(size ? { terminalSize: size } : {}),
    })
    this.#containers.recordExec(c.id, id)
    this.#events.emit('container', `exec_create: ${config.Cmd.join(' ')}`, c.id, { ...this.#containers.eventAttributes(c.id), execID: id })
    return id
  }

  get(id: string): ExecRecord {
    const e = this.#execs.get(id)
    if (!e) throw notFound(`No such exec instance: ${id}`)
    return e
  }

  inspect(id: string): Record<string, unknown> {
    const e = this.get(id)
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: { tty: e.config.Tty ?? false, entrypoint: e.config.Cmd[0], arguments: e.config.Cmd.slice(1), privileged: e.config.Privileged ?? false, user: e.config.User ?? '' },
      OpenStdin: e.config.AttachStdin ?? false,
      OpenStderr: e.config.AttachStderr ?? false,
      OpenStdout: e.config.AttachStdout ?? false,
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: e.config.DetachKeys ?? '',
      Pid: e.pid,
    }
  }

  /** Checks that an exec can start now (before the API hijacks the connection). */
  validateStart(id: string): ExecRecord {
    const e = this.get(id)
    if (e.started) throw conflict(`Error: Exec command ${id} has already run`)
    const c = this.#containers.get(e.containerId)
    if (!c.state.Running) throw conflict(`container ${c.id} is not running`)
    if (c.state.Paused) throw conflict(`Container ${c.id} is paused, unpause the container before exec`)
    return e
  }

  /**
   * A health probe: an exec whose output (stdout and stderr together) is kept, killed after `timeoutMs`.
   * A probe that timed out reports exit code -1, as Docker's.
   */
  async probe(containerId: string, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const id = this.create(containerId, { Cmd: cmd, AttachStdout: true, AttachStderr: true })
    let output = ''
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      void this.#kill(id)
    }, timeoutMs)
    try {
      const exitCode = await this.start(id, {
        output: (_stream, chunk) => {
          if (output.length < 8192) output += chunk.toString()
        },
      })
      if (timedOut) return { exitCode: -1, output: `Health check exceeded timeout (${goDuration(timeoutMs)})` }
      return { exitCode, output }
    } finally {
      clearTimeout(timer)
      this.#execs.delete(id)
      this.#containers.forgetExec(containerId, id)
    }
  }

  /**
   * A TTY exec runs under its own conmon (exec mode), which holds the pseudo-terminal: output comes from the
   * session's log, stdin goes to its attach socket, resizes to its control fifo; conmon reports the PID and then
   * the exit code on the sync pipe.
   */
  async #startTty(e: ExecRecord, processSpec: Record<string, unknown>, io: ExecIo): Promise<number> {
    const c = this.#containers.get(e.containerId)
    const dir = join(this.#sessionsDir, e.id)
    await mkdir(join(dir, 'exits'), { recursive: true })
    const spec = { ...processSpec, terminal: true, ...(e.terminalSize ? { consoleSize: e.terminalSize } : {}) }
    await writeFile(join(dir, 'process.json'), JSON.stringify(spec))
    const logPath = join(dir, 'log')
    this.#events.emit('container', `exec_start: ${e.config.Cmd.join(' ')}`, c.id, { ...this.#containers.eventAttributes(c.id), execID: e.id })
    const child = this.#runtime.execWithTerminal({
      id: c.id,
      execId: e.id.slice(0, 32),
      name: `${c.name.slice(1)}-exec`,
      dir,
      logPath,
      processSpec: join(dir, 'process.json'),
      stdin: io.stdin !== undefined,
    })
    const messages = syncMessages(child.stdio[3] as NodeJS.ReadableStream)
    e.running = true
    try {
      const started = (await messages.next()).value as SyncMessage | undefined
      const pid = started?.data ?? -1
      if (pid < 0) throw new CaisError('invalid', `OCI runtime exec failed: ${started?.message ?? 'conmon gave no PID'}`)
      e.pid = pid
      // The size last asked for, now that conmon reads its control fifo: a resize may have come after the spec.
      e.terminalReady = true
      if (e.terminalSize) await resizeTerminal(dir, e.terminalSize.height, e.terminalSize.width).catch(() => {})
      let stopExit: () => void = () => {}
      const exited = new Promise<void>((r) => (stopExit = r))
      const output = (async () => {
        for await (const batch of readLogs(logPath, { follow: true, times: false, partials: true, stopped: exited })) for (const entry of batch) io.output('stdout', Buffer.from(entryText(entry)))
      })()
      if (io.stdin) {
        const stdin = openStdin(dir)
        io.stdin.pipe(stdin.input)
      }
      const done = (await messages.next()).value as SyncMessage | undefined
      const exitCode = done?.data ?? Number((await readFile(join(dir, 'exits', c.id), 'utf8').catch(() => '')).trim() || 137)
      stopExit()
      await output
      e.exitCode = exitCode
      this.#events.emit('container', 'exec_die', c.id, { ...this.#containers.eventAttributes(c.id), execID: e.id, exitCode: String(exitCode) })
      return exitCode
    } finally {
      e.running = false
      e.terminalReady = false
      await rm(dir, { recursive: true, force: true })
    }
  }

  /**
   * The terminal size of a TTY exec (`docker exec -t` sends it right after the start, then as the client's
   * terminal changes). Until its conmon is ready the size is kept, and applied when it is. crun 1.8 sizes an
   * exec's terminal just after its process may have started: a process that reads its size at once can still
   * see 0x0 (about one in ten under load); the size is right a moment later.
   */
  async resize(id: string, height: number, width: number): Promise<void> {
    const e = this.get(id)
    if (!e.config.Tty || e.exitCode !== null || height <= 0 || width <= 0) return
    e.terminalSize = { height, width }
    if (e.terminalReady) await resizeTerminal(join(this.#sessionsDir, e.id), height, width).catch(() => {})
  }

  async #kill(id: string): Promise<void> {
    const e = this.#execs.get(id)
    if (!e?.pidFile) return
    const pid = Number.parseInt(await readFile(e.pidFile, 'utf8').catch(() => ''), 10)
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }

  /** Runs the exec to its end; resolves with its exit code, recorded before the caller closes the stream. */
  async start(id: string, io: ExecIo): Promise<number> {
    const e = this.validateStart(id)
    e.started = true
    const c = this.#containers.get(e.containerId)
    const rootfs = this.#containers.rootfsPath(c.id)
    const user = await resolveUser(rootfs, e.config.User || c.config.User).catch((err: unknown) => {
      // An exec that cannot start exits 126, as Docker's (`docker exec -u nosuchuser` exits 126).
      e.exitCode = 126
      throw err
    })
    const env = mergeEnv(c.config.Env, e.config.Env ?? [])
    if (!env.some((v) => v.startsWith('HOME='))) env.push(`HOME=${user.home}`)
    if (e.config.Tty && !env.some((v) => v.startsWith('TERM='))) env.push('TERM=xterm')
    const caps = capabilitySet(c.hostConfig.CapAdd ?? [], c.hostConfig.CapDrop ?? [], c.hostConfig.Privileged || (e.config.Privileged ?? false))
    const process = {
      terminal: false,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids.length > 0 ? user.additionalGids : undefined },
      args: e.config.Cmd,
      env,
      cwd: e.config.WorkingDir || c.config.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: false,
      // The container's ulimits hold for what runs in it later too, as Docker copies them into an exec.
      ...rlimitsOf(c.hostConfig['Ulimits']),
    }
    if (e.config.Tty) return this.#startTty(e, process, io)
    const dir = this.#containers.bundlePath(c.id)
    const specPath = join(dir, `exec-${id}.json`)
    const pidPath = join(dir, `exec-${id}.pid`)
    await writeFile(specPath, JSON.stringify(process))
    e.pidFile = pidPath
    this.#events.emit('container', `exec_start: ${e.config.Cmd.join(' ')}`, c.id, { ...this.#containers.eventAttributes(c.id), execID: id })
    const child = this.#runtime.exec(c.id, { processSpec: specPath, pidFile: pidPath, stdin: io.stdin !== undefined })
    e.running = true
    e.pid = child.pid ?? 0
    if (io.stdin && child.stdin) {
      io.stdin.pipe(child.stdin)
      child.stdin.on('error', () => {})
    }
    let stderrText = ''
    child.stdout?.on('data', (d: Buffer) => io.output('stdout', d))
    child.stderr?.on('data', (d: Buffer) => {
      stderrText += d.toString()
      io.output('stderr', d)
    })
    const code = await new Promise<number>((resolve) => {
      child.on('error', () => resolve(126))
      child.on('close', (status, signal) => resolve(status ?? (signal ? 128 + (osSignals[signal] ?? 9) : 1)))
    })
    // crun itself reports an exec that could not start (255); docker exec answers 126 for it.
    const exitCode = code === 255 && /executable file `[^`]*` not found|: No such file or directory$|Permission denied/m.test(stderrText) ? 126 : code
    e.running = false
    e.exitCode = exitCode
    await rm(specPath, { force: true })
    await rm(pidPath, { force: true })
    this.#events.emit('container', 'exec_die', c.id, { ...this.#containers.eventAttributes(c.id), execID: id, exitCode: String(exitCode) })
    return exitCode
  }
}

function rlimitsOf(ulimits: unknown): { rlimits?: Array<{ type: string; soft: number; hard: number }> } {
  if (!Array.isArray(ulimits) || ulimits.length === 0) return {}
  return { rlimits: (ulimits as Array<{ Name: string; Soft: number; Hard: number }>).map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard })) }
}

/** The JSON objects conmon writes on its sync pipe, one after the other: `{"data": pid}`, then `{"data": exit code}`. */
interface SyncMessage {
  data?: number
  message?: string
}

async function* syncMessages(pipe: NodeJS.ReadableStream): AsyncGenerator<SyncMessage, void> {
  let buf = ''
  for await (const chunk of pipe as AsyncIterable<Buffer>) {
    buf += chunk.toString()
    for (let end = buf.indexOf('}'); end >= 0; end = buf.indexOf('}')) {
      const text = buf.slice(buf.indexOf('{'), end + 1)
      buf = buf.slice(end + 1)
      try {
        yield JSON.parse(text) as SyncMessage
      } catch {
        // not a message: skip it
      }
    }
  }
}

/** Go's duration text for whole milliseconds and up: 1s, 500ms, 1m30s, as Docker's messages print them. */
function goDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`
  const h = Math.floor(ms / 3_600_000)
  const m = Math.floor((ms % 3_600_000) / 60_000)
  const s = (ms % 60_000) / 1000
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`
}

const osSignals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 }
