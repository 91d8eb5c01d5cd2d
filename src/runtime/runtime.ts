import { type ChildProcess, spawn } from 'node:child_process'
import { constants, existsSync, type FSWatcher, readFileSync, rmdirSync, watch } from 'node:fs'
import { mkdir, open, readFile, readdir, readlink, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execFile } from '../lib/exec.ts'
import type { Logger } from '../lib/log.ts'
import { cgroupDirs, containerCgroup } from './cgroups.ts'
import { BackgroundRemoval } from '../store/background-removal.ts'
import { isErrno } from '../lib/errors.ts'

export interface RuntimeConfig {
  conmon: string
  crun: string
  /** crun's --root: its state directory. */
  crunRoot: string
  /** Added to crun's environment (and conmon's, which passes it on). */
  crunEnv?: Record<string, string>
  /** conmon writes `<exits>/<id>` holding the exit code when a container's process ends. */
  exitsDir: string
  log: Logger
}

/** An OCI runtime other than the default crun (`runtimes` in daemon.json): its binary and the options it is given first. */
export interface RuntimeBinary {
  path: string
  args: readonly string[]
}

export interface CreateProcessOptions {
  id: string
  /** The runtime this container runs under; the default crun when absent. */
  runtime?: RuntimeBinary | undefined
  name: string
  bundle: string
  logPath: string
  /** Max bytes of the log file before conmon truncates it; -1 for none. */
  logSizeMax?: number
  /** Keep a pipe for the container's stdin (`-i`); with `keepStdinOpen`, it survives a client that leaves. */
  stdin?: boolean
  keepStdinOpen?: boolean
  /** A pseudo-terminal: conmon holds the master, the process gets the slave as stdio. */
  terminal?: boolean
  /** The container's /dev is the tmpfs its spec mounts (not a bind of the host's): crun's extra links in it may go. */
  ownDev?: boolean
}

/** An exec with a pseudo-terminal: its own conmon (exec mode) holds the terminal, in a session directory. */
export interface TerminalExecOptions {
  /** The container's ID. */
  id: string
  /** Names the exec to conmon (its `-u`). */
  execId: string
  name: string
  /** The session's directory: the attach socket, control fifo, pid file and exits dir go there. */
  dir: string
  logPath: string
  processSpec: string
  stdin: boolean
}

export class RuntimeError extends Error {}

/**
 * Runs containers with crun under conmon: conmon holds the container's stdio, writes its logs and its
 * exit code, and outlives caisd. This is the only module that spawns either of them.
 */
export class Runtime {
  readonly #c: RuntimeConfig
  /** crun's environment: the daemon's, and what the config adds. */
  readonly #crunEnv: NodeJS.ProcessEnv
  /** conmon's: a PATH, its sync pipe on fd 3, and crun's additions, which it passes on to crun. */
  readonly #conmonEnv: NodeJS.ProcessEnv
  #watcher: FSWatcher | undefined
  /** Stopped containers' state directories: renamed away at once, deleted in the background. */
  readonly #stateRemoval = new BackgroundRemoval()
  /** Containers that run under a runtime of their own, by ID: every later call on them goes to that binary. */
  readonly #binaries = new Map<string, RuntimeBinary>()

  constructor(config: RuntimeConfig) {
    this.#c = config
    this.#crunEnv = { ...process.env, ...config.crunEnv }
    this.#conmonEnv = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3', ...config.crunEnv }
  }

  async init(): Promise<void> {
    await mkdir(this.#c.exitsDir, { recursive: true })
    await mkdir(this.#c.crunRoot, { recursive: true })
    await this.#stateRemoval.sweep(this.#c.crunRoot)
  }

  /** Resolves once the state directories being deleted are gone. */
  async settled(): Promise<void> {
    await this.#stateRemoval.settled()
  }

  /** Which runtime a container runs under (from its record, at daemon start); undefined for the default. */
  register(id: string, runtime: RuntimeBinary | undefined): void {
    if (runtime) this.#binaries.set(id, runtime)
    else this.#binaries.delete(id)
  }

  /** Creates the container (crun create under a new conmon); its process waits for `start`. Returns its PID. */
  async create(o: CreateProcessOptions): Promise<{ pid: number }> {
    try {
      return await this.#create(o)
    } catch (err) {
      // crun state left by a run that was never cleaned up (a crash mid-start): clear it and try once more.
      if (!(err instanceof RuntimeError) || !/already exists/i.test(err.message)) throw err
      await this.delete(o.id, { force: true })
      return this.#create(o)
    }
  }

  async #create(o: CreateProcessOptions): Promise<{ pid: number }> {
    this.register(o.id, o.runtime)
    await rm(join(this.#c.exitsDir, o.id), { force: true })
    const bin = this.#binary(o.id)
    const args = [
      '--api-version', '1',
      '-c', o.id,
      '-u', o.id,
      '-n', o.name,
      '-r', bin.path,
      '-b', o.bundle,
      '-p', join(o.bundle, 'pidfile'),
      '-P', join(o.bundle, 'conmon.pid'),
      '--exit-dir', this.#c.exitsDir,
      '-l', `k8s-file:${o.logPath}`,
      '--log-level', 'error',
      '--full-attach',
      '--socket-dir-path', o.bundle,
      '--runtime-arg', `--root=${this.#c.crunRoot}`,
      ...bin.args.flatMap((a) => ['--runtime-arg', a]),
    ]
    if (o.logSizeMax !== undefined && o.logSizeMax > 0) args.push('--log-size-max', String(o.logSizeMax))
    if (o.stdin) args.push('-i')
    if (o.stdin && o.keepStdinOpen) args.push('--leave-stdin-open')
    if (o.terminal) args.push('-t')
    const child = spawn(this.#c.conmon, args, {
      cwd: o.bundle,
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: this.#conmonEnv,
    })
    child.unref()
    const sync = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }
    const message = await new Promise<string>((resolve, reject) => {
      let buf = ''
      const done = (): void => resolve(buf)
      sync.on('data', (d: Buffer) => {
        buf += d.toString()
        if (buf.includes('}')) {
          sync.removeListener('end', done)
          done()
        }
      })
      sync.on('end', done)
      sync.on('error', reject)
      child.on('error', reject)
    })
    sync.destroy()
    let parsed: { data?: number; message?: string }
    try {
      parsed = JSON.parse(message.slice(0, message.indexOf('}') + 1)) as { data?: number; message?: string }
    } catch {
      throw new RuntimeError(`conmon failed to create the container: ${message.trim() || 'no answer on the sync pipe'}`)
    }
    if (parsed.data === undefined || parsed.data < 0) {
      throw new RuntimeError(cleanRuntimeMessage(parsed.message ?? `conmon failed with ${String(parsed.data)}`))
    }
    if (o.ownDev) await removeKcoreLink(parsed.data)
    return { pid: parsed.data }
  }

  /**
   * Lets the created container's process run. It waits in crun's init on `exec.fifo`; `crun start` opens the
   * fifo, removes it and writes one byte, and so does this, without a spawn (our specs carry no hooks, which
   * `crun start` would also run). When the fifo cannot be opened, `crun start` runs and reports why.
   */
  async start(id: string): Promise<void> {
    const fifo = join(this.#c.crunRoot, id, 'exec.fifo')
    // Non-blocking: with no process reading the fifo (it died after create), the open fails instead of hanging.
    const fh = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined)
    if (fh) {
      try {
        await unlink(fifo)
        await fh.write(Buffer.from([0]))
        return
      } finally {
        await fh.close()
      }
    }
    const r = await this.#crun(id, ['start', id])
    if (r.code !== 0) throw new RuntimeError(cleanRuntimeMessage(r.stderr))
  }

  /**
   * SIGKILL straight to the container's init when `pid` still is that container's (its cgroup names it): the same
   * effect as `crun kill`, without a spawn on the `rm -f` path. Returns false when the caller must use `kill`.
   */
  killInit(id: string, pid: number, signal: number): boolean {
    if (pid <= 0) return false
    // Read synchronously (procfs answers from memory): the PID cannot be reused between the check and the kill.
    const cgroup = readOrUndefined(`/proc/${pid}/cgroup`) ?? ''
    if (!cgroup.includes(containerCgroup(id))) return false
    try {
      process.kill(pid, signal)
      return true
    } catch {
      return false
    }
  }

  async kill(id: string, signal: string | number, all = false): Promise<void> {
    const r = await this.#crun(id, ['kill', ...(all ? ['--all'] : []), id, String(signal)])
    if (r.code !== 0 && !/not running|does not exist|No such process/i.test(r.stderr)) throw new RuntimeError(cleanRuntimeMessage(r.stderr))
  }

  /** Changes a running container's resource limits (`crun update --resources`). */
  async update(id: string, bundle: string, resources: object): Promise<void> {
    const file = join(bundle, 'update-resources.json')
    await writeFile(file, JSON.stringify(resources))
    const r = await this.#crun(id, ['update', '--resources', file, id])
    await rm(file, { force: true })
    if (r.code !== 0) throw new RuntimeError(cleanRuntimeMessage(r.stderr))
  }

  async pause(id: string): Promise<void> {
    const r = await this.#crun(id, ['pause', id])
    if (r.code !== 0) throw new RuntimeError(cleanRuntimeMessage(r.stderr))
  }

  async resume(id: string): Promise<void> {
    const r = await this.#crun(id, ['resume', id])
    if (r.code !== 0) throw new RuntimeError(cleanRuntimeMessage(r.stderr))
  }

  /**
   * Removes crun's state for a container (`force` kills a live one first). Nothing to do, no spawn; for one whose
   * process is gone, no spawn either (see #releaseStopped). `reaped`: the caller has conmon's exit file, so the
   * process is known to be gone and is not looked for.
   */
  async delete(id: string, opts: { force?: boolean; reaped?: boolean } = {}): Promise<void> {
    const dir = join(this.#c.crunRoot, id)
    const status = readOrUndefined(join(dir, 'status'))
    if (status === undefined && !(await stat(dir).then(() => true, () => false))) return
    if (status !== undefined && (await this.#releaseStopped(dir, status, opts.reaped === true))) return
    await this.#crun(id, ['delete', ...(opts.force ? ['--force'] : []), id])
  }

  /**
   * What `crun delete` does for a container whose process has exited: remove its cgroup from every hierarchy,
   * then its state directory. With the init gone its PID namespace is gone, so the cgroups are empty. False
   * (leave it to crun) when the init still runs or a cgroup will not go. Its reads and rmdirs are synchronous:
   * crun's state is on the exec root (a tmpfs by default), /proc and cgroupfs are made by the kernel, so none
   * waits on a disk; the dozen calls take ~0.2 ms, where through libuv's pool they took 0.7–1.2 ms of each exit.
   */
  async #releaseStopped(dir: string, statusText: string, reaped: boolean): Promise<boolean> {
    let status: { pid?: number; 'process-start-time'?: number; 'cgroup-path'?: string }
    try {
      status = JSON.parse(statusText) as typeof status
    } catch {
      return false
    }
    const { pid, 'cgroup-path': cgroup } = status
    if (!pid || !cgroup || !cgroup.startsWith('/')) return false
    // Alive means that PID with the same start time (field 22 of its stat), as crun itself checks.
    const stat = reaped ? undefined : readOrUndefined(`/proc/${pid}/stat`)
    if (stat !== undefined && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) === status['process-start-time']) return false
    const removed = (await cgroupDirs(cgroup)).map((d) => {
      try {
        rmdirSync(d)
        return true
      } catch (err) {
        return isErrno(err, 'ENOENT')
      }
    })
    if (removed.includes(false)) return false
    await this.#stateRemoval.remove(dir)
    return true
  }

  /**
   * The exit code conmon recorded, or undefined while the container's process has not ended. Read synchronously:
   * the file is a few bytes on the exec root (a tmpfs by default), which takes microseconds, where an async read's
   * trips through libuv's pool took 0.5–1.5 ms while the kernel was tearing the container down.
   */
  exitCode(id: string): number | undefined {
    try {
      const text = readFileSync(join(this.#c.exitsDir, id), 'utf8').trim()
      if (text === '') return undefined
      const n = Number.parseInt(text, 10)
      return Number.isNaN(n) ? undefined : n
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined
      throw err
    }
  }

  /** IDs of the containers crun has state for, running or not. */
  async containerIds(): Promise<string[]> {
    return (await readdir(this.#c.crunRoot).catch(() => [])).filter(isContainerId)
  }

  /** crun's word on a container (`created`, `running`, `paused`, `stopped`); undefined when crun has no such container. */
  async status(id: string): Promise<string | undefined> {
    const r = await this.#crun(id, ['state', id])
    if (r.code !== 0) return undefined
    try {
      return (JSON.parse(r.stdout) as { status?: string }).status
    } catch {
      return undefined
    }
  }

  /** IDs with an exit file waiting to be read. */
  async exitFiles(): Promise<Set<string>> {
    return new Set((await readdir(this.#c.exitsDir)).filter(isContainerId))
  }

  async forgetExit(id: string): Promise<void> {
    await rm(join(this.#c.exitsDir, id), { force: true })
  }

  /** Calls `onExit(id)` whenever conmon writes an exit file; also once for every file already there. */
  async watchExits(onExit: (id: string) => void): Promise<void> {
    // conmon writes `<id>.XXXXXX` and renames it to `<id>`: only the final name is an exit. Touching the
    // temp file (an earlier version deleted it as an unknown exit) makes conmon fail before the rename.
    this.#watcher = watch(this.#c.exitsDir, (_event, name) => {
      if (name && isContainerId(name)) onExit(name)
    })
    for (const name of await readdir(this.#c.exitsDir)) if (isContainerId(name)) onExit(name)
  }

  close(): void {
    this.#watcher?.close()
  }

  /**
   * The PID of a container's conmon, from its pid file; undefined when gone. The process must still be that
   * container's conmon: a PID can be reused by anything once conmon has exited.
   */
  async conmonPid(bundle: string, id: string): Promise<number | undefined> {
    const text = await readFile(join(bundle, 'conmon.pid'), 'utf8').catch(() => '')
    const pid = Number.parseInt(text, 10)
    if (!pid) return undefined
    return (await isConmonOf(pid, id)) ? pid : undefined
  }

  /** What is left of a container's monitor and process, for the logs when something went missing. */
  async diagnose(bundle: string, id: string): Promise<Record<string, string>> {
    const pid = (await readFile(join(bundle, 'conmon.pid'), 'utf8').catch(() => '')).trim()
    const stat = pid ? await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => 'gone') : 'no pid file'
    const state = await this.#crun(id, ['state', id])
    const bundleFiles = await readdir(bundle).catch(() => [])
    return { conmonPid: pid, conmonStat: stat.trim(), crunState: (state.stdout || state.stderr).replace(/\s+/g, ' '), bundle: bundleFiles.join(',') }
  }

  /** `crun exec` of a process spec in a running container, its stdio piped to the caller (stdin when asked). */
  exec(id: string, o: { processSpec: string; pidFile: string; stdin: boolean }): ChildProcess {
    const bin = this.#binary(id)
    return spawn(bin.path, [`--root=${this.#c.crunRoot}`, ...bin.args, 'exec', '--process', o.processSpec, '--pid-file', o.pidFile, id], {
      env: this.#crunEnv,
      stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    })
  }

  /**
   * Starts a terminal exec under its own conmon, which writes the session's log, serves its attach socket and
   * control fifo, and reports on fd 3 the process's PID, then its exit code.
   */
  execWithTerminal(o: TerminalExecOptions): ChildProcess {
    const bin = this.#binary(o.id)
    const args = [
      '--api-version', '1', '-c', o.id, '-u', o.execId, '-n', o.name, '-r', bin.path, '-b', o.dir, '-p', join(o.dir, 'pid'),
      '--exit-dir', join(o.dir, 'exits'), '--socket-dir-path', o.dir, '--full-attach', '-l', `k8s-file:${o.logPath}`, '--log-level', 'error',
      '-e', '--exec-process-spec', o.processSpec, '-t', ...(o.stdin ? ['-i'] : []), '--runtime-arg', `--root=${this.#c.crunRoot}`,
      ...bin.args.flatMap((a) => ['--runtime-arg', a]),
    ]
    return spawn(this.#c.conmon, args, {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: this.#conmonEnv,
    })
  }

  /** The container's runtime: its own, or the default crun. */
  #binary(id: string): RuntimeBinary {
    return this.#binaries.get(id) ?? { path: this.#c.crun, args: [] }
  }

  /** Runs the container's runtime (crun by default) with its root and its options first. */
  #crun(id: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const bin = this.#binary(id)
    return execFile(bin.path, [`--root=${this.#c.crunRoot}`, ...bin.args, ...args], { env: this.#crunEnv })
  }

  static async writeBundle(bundle: string, spec: object): Promise<void> {
    await mkdir(bundle, { recursive: true })
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec))
  }
}

/** Turns crun's messages into Docker-like text: `exec: "nope": executable file not found in $PATH`. */
export function cleanRuntimeMessage(raw: string): string {
  const text = raw.trim().split('\n').filter(Boolean).at(-1) ?? raw.trim()
  const m = /executable file `([^`]+)` not found in \$PATH|`([^`]+)`: No such file or directory/.exec(text)
  if (m) return `exec: "${m[1] ?? m[2]}": executable file not found in $PATH`
  const perm = /open executable: (?:Permission denied|Operation not permitted)|`([^`]+)`: Permission denied/.exec(text)
  if (perm) return `exec: "${perm[1] ?? ''}": permission denied`
  return text.replace(/^(crun|conmon): ?/, '')
}

export function isNotFoundMessage(message: string): boolean {
  return /executable file not found|no such file or directory/i.test(message)
}

const isContainerId = (name: string): boolean => /^[a-f0-9]{64}$/.test(name)

/** True when `pid` is a running conmon for container `id` (by its command line). */
export async function isConmonOf(pid: number, id: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
  const args = cmdline.split('\0')
  return /(^|\/)conmon$/.test(args[0] ?? '') && args.includes(id)
}

/** A small file's text, or undefined when it cannot be read (gone, most often). Synchronous: see its callers. */
function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/**
 * crun 1.8 always adds `/dev/core -> /proc/kcore` to a container's /dev; Docker's runc adds it only where the kernel
 * has /proc/kcore. On a host without it the dangling link goes, through the root of the created container (it waits
 * on its fifo with its mounts in place), and only when /dev is the container's own tmpfs (`ownDev`).
 */
async function removeKcoreLink(pid: number): Promise<void> {
  if (hostHasKcore) return
  const link = `/proc/${pid}/root/dev/core`
  const target = await readlink(link).catch(() => undefined)
  if (target === '/proc/kcore') await unlink(link).catch(() => {})
}

const hostHasKcore = existsSync('/proc/kcore')
