import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { TestContext } from 'node:test'
import { EngineClient } from '../../src/client/engine-client.ts'
import { cleanupNetwork, unmountUnder } from './host-cleanup.ts'

export const repoRoot = resolve(import.meta.dirname, '../..')
export const caisBin = join(repoRoot, 'bin/cais')
export const caisdBin = join(repoRoot, 'bin/caisd')
export const dockerBin = '/usr/local/bin/docker'

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs a command to completion, with optional stdin; never throws on a non-zero exit. */
export function runCommand(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    const started = Date.now()
    const timer = setTimeout(() => {
      process.stderr.write(`test helper: killing ${cmd} ${args.join(' ')} after ${opts.timeoutMs ?? 60_000} ms\n`)
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (Date.now() - started > 5000) process.stderr.write(`test helper: slow command (${Date.now() - started} ms): ${cmd} ${args.join(' ')}\n`)
      resolvePromise({ code: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })
    })
    child.stdin.end(opts.input)
  })
}

let imageTar: string | undefined
/** A tar of a busybox-static root filesystem, made once per test process. */
export function busyboxTar(): string {
  if (imageTar && existsSync(imageTar)) return imageTar
  const dir = mkdtempSync('/tmp/cais-test-image-')
  const tmp = join(dir, 'busybox.tar.tmp')
  execFileSync(join(repoRoot, 'scripts/busybox-image.sh'), [tmp])
  renameSync(tmp, join(dir, 'busybox.tar'))
  imageTar = join(dir, 'busybox.tar')
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  return imageTar
}

export const BUSYBOX = 'busybox:latest'

export interface TestDaemon {
  dir: string
  root: string
  execRoot: string
  socket: string
  host: string
  /** Names its iptables chains (`<prefix>-…`). */
  chainPrefix: string
  client: EngineClient
  /** Runs our CLI against this daemon. */
  cli(...args: string[]): Promise<RunResult>
  cliWithInput(input: string | Buffer, ...args: string[]): Promise<RunResult>
  /** Runs the real docker CLI against this daemon. */
  docker(...args: string[]): Promise<RunResult>
  dockerWithInput(input: string | Buffer, ...args: string[]): Promise<RunResult>
  /** Imports the busybox image as busybox:latest, with `sh` as its command as Docker Hub's busybox has. */
  importBusybox(): Promise<void>
  stop(): Promise<void>
  kill9(): Promise<void>
  /** Sends a signal to caisd (SIGHUP: reload its config file). */
  signal(name: NodeJS.Signals): void
  start(): Promise<void>
  logs(): string
}

/**
 * Starts a real caisd on its own temp root, exec root and socket. Everything it made (containers,
 * mounts, conmon processes) is removed in t.after, even when the test fails. `wrap` runs caisd through a launcher
 * that execs it (`wrap[0] wrap[1..] caisd ARGS`), as systemd's socket activation does.
 */
/**
 * `logLevel: false` leaves the log level to the daemon's config file (the tests give `--log-level debug` otherwise).
 * `env` is added to caisd's environment.
 */
/** Resolves once the process has exited (at once if it already has: a process killed by a signal has no exit code). */
export const waitExit = (c: ChildProcess): Promise<void> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r())))

/** SIGKILL, then its exit; nothing for a process already gone. */
export async function killAndWait(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return
  const exited = waitExit(c)
  c.kill('SIGKILL')
  await exited
}

/**
 * What a helper needs of its caller: a name, and somewhere to leave its clean-up. A node:test TestContext is one;
 * a script (the torture run) makes its own.
 */
export interface Scope {
  name: string
  after(fn: () => unknown): void
}

export async function startDaemon(t: Scope, opts: { importBusybox?: boolean; args?: string[]; netns?: string; wrap?: string[]; bin?: string; logLevel?: false; env?: NodeJS.ProcessEnv } = {}): Promise<TestDaemon> {
  const caisd = opts.bin ?? caisdBin
  const dir = mkdtempSync('/tmp/cais-test-')
  const net = claimNetworkSlot()
  const root = join(dir, 'root')
  const execRoot = join(dir, 'run')
  const socket = join(dir, 'cais.sock')
  const host = `unix://${socket}`
  let child: ChildProcess | undefined
  let log = ''
  const env = { CAIS_HOST: host, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'docker-config'), CAIS_CONFIG: join(dir, 'cais-config') }

  const start = async (): Promise<void> => {
    // The host's /etc/cais/daemon.json, should it have one, is not the test's: an empty file of the test's own stands in.
    const configFile = (opts.args ?? []).some((a) => a.startsWith('--config-file')) ? [] : ['--config-file', join(dir, 'daemon.json')]
    if (configFile.length > 0 && !existsSync(join(dir, 'daemon.json'))) writeFileSync(join(dir, 'daemon.json'), '{}\n')
    const argv = ['--root', root, '--exec-root', execRoot, '-H', host, ...(opts.logLevel === false ? [] : ['--log-level', 'debug']), ...net.args, ...configFile, ...(opts.args ?? [])]
    // In a test "host" (a network namespace of the test's own): nsenter switches only the network namespace and
    // execs caisd, so the child is caisd itself and its mounts stay visible to the cleanup.
    const spawnOpts = { stdio: ['ignore', 'ignore', 'pipe'] as ('ignore' | 'pipe')[], env: { ...process.env, ...opts.env } }
    child = opts.netns
      ? spawn('nsenter', [`--net=/run/netns/${opts.netns}`, caisd, ...argv], spawnOpts)
      : opts.wrap
        ? spawn(opts.wrap[0]!, [...opts.wrap.slice(1), caisd, ...argv], spawnOpts)
        : spawn(caisd, argv, spawnOpts)
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()))
    const deadline = Date.now() + 20_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`caisd exited with ${child.exitCode}:\n${log}`)
      if (existsSync(socket)) {
        const r = await runCommand(dockerBin, ['version', '--format', '{{.Server.Version}}'], { env }).catch(() => undefined)
        if (r?.code === 0) return
      }
      if (Date.now() > deadline) throw new Error(`caisd did not come up:\n${log}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  const d: TestDaemon = {
    dir,
    root,
    execRoot,
    socket,
    host,
    chainPrefix: net.chainPrefix,
    client: new EngineClient({ host }),
    cli: (...args) => runCommand(caisBin, args, { env }),
    cliWithInput: (input, ...args) => runCommand(caisBin, args, { env, input }),
    docker: (...args) => runCommand(dockerBin, args, { env }),
    dockerWithInput: (input, ...args) => runCommand(dockerBin, args, { env, input }),
    importBusybox: async () => {
      const r = await runCommand(caisBin, ['import', '--change', 'CMD ["sh"]', busyboxTar(), BUSYBOX], { env })
      if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`)
    },
    stop: async () => {
      if (!child) return
      const c = child
      child = undefined
      c.kill('SIGTERM')
      await waitExit(c)
    },
    kill9: async () => {
      if (!child) return
      const c = child
      child = undefined
      c.kill('SIGKILL')
      await waitExit(c)
    },
    signal: (name) => {
      child?.kill(name)
    },
    start,
    logs: () => log,
  }
  t.after(async () => {
    d.client.close()
    if (process.env['CAIS_TEST_LOG_DIR']) {
      const { writeFileSync } = await import('node:fs')
      writeFileSync(join(process.env['CAIS_TEST_LOG_DIR'], `${t.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.log`), log)
    }
    if (child) {
      // Remove what the test left through the API first, then make sure of it by hand.
      const ids = await d.client.containers.list({ all: true }).catch(() => [])
      for (const c of ids) await d.client.containers.remove(c.Id, { force: true }).catch(() => {})
      await d.stop()
    }
    cleanupNetwork(root, net.chainPrefix, `cst${net.slot}`)
    net.release()
    cleanupRoot(dir, execRoot)
  })
  await start()
  if (opts.importBusybox ?? true) await d.importBusybox()
  return d
}

/**
 * A launcher that does what systemd's socket activation does: it listens on `socketPath`, passes the socket as fd 3
 * with LISTEN_FDS=1 and LISTEN_PID of the process it then execs (its arguments). For startDaemon's `wrap`.
 */
export function socketActivationLauncher(dir: string, socketPath: string): string[] {
  const launcher = [
    'import os, socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
    `s.bind(${JSON.stringify(socketPath)})`,
    's.listen(16)',
    'os.dup2(s.fileno(), 3)',
    'os.set_inheritable(3, True)',
    'os.environ["LISTEN_FDS"] = "1"',
    'os.environ["LISTEN_PID"] = str(os.getpid())',
    'os.execv(sys.argv[1], sys.argv[1:])',
  ].join('\n')
  writeFileSync(join(dir, 'launch.py'), launcher)
  return ['python3', join(dir, 'launch.py')]
}

const slotsDir = '/tmp/cais-test-netslots'

/**
 * A network slot of this test daemon: its own default bridge, subnets and iptables chains, so test daemons
 * running side by side never share one. Slots are claimed with O_EXCL files naming the claiming PID; a slot
 * whose process is gone is taken over.
 */
export function claimNetworkSlot(): { slot: number; args: string[]; chainPrefix: string; release(): void } {
  mkdirSync(slotsDir, { recursive: true })
  const start = Math.floor(Math.random() * 250)
  for (let k = 0; k < 250; k++) {
    const n = (start + k) % 250
    const file = join(slotsDir, String(n))
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' })
    } catch {
      const owner = Number(readFileSync(file, 'utf8') || 0)
      let alive = false
      try {
        process.kill(owner, 0)
        alive = true
      } catch {
        // the claiming test process is gone
      }
      if (alive) continue
      writeFileSync(file, String(process.pid))
    }
    const chainPrefix = `CT${n}`
    return {
      slot: n,
      args: ['--bridge-name', `cst${n}`, '--bip', `10.231.${n}.1/24`, '--default-address-pool', `base=10.232.${n}.0/24,size=28`, '--iptables-chain-prefix', chainPrefix],
      chainPrefix,
      release: () => rmSync(file, { force: true }),
    }
  }
  throw new Error('no free network slot for a test daemon')
}

/** Stops every conmon and container of this test root and unmounts its overlays. */
function cleanupRoot(dir: string, execRoot: string): void {
  const crunRoot = join(execRoot, 'crun')
  const bundles = join(execRoot, 'containers')
  if (existsSync(bundles)) {
    for (const id of readdirSync(bundles)) {
      try {
        execFileSync('crun', [`--root=${crunRoot}`, 'delete', '--force', id], { stdio: 'ignore' })
      } catch {
        // already gone
      }
      try {
        // Only that container's conmon: once it exits its PID may belong to another test's process.
        const pid = Number(readFileSync(join(bundles, id, 'conmon.pid'), 'utf8'))
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
        if (pid && cmdline[0]?.endsWith('conmon') && cmdline.includes(id)) process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  unmountUnder(dir)
  rmSync(dir, { recursive: true, force: true })
}

/** A name derived from the test's name, unique per run. */
export function uniqueName(t: TestContext): string {
  return `${t.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40)}-${process.pid}-${Math.floor(Math.random() * 1e6)}`
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
