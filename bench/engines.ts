// What the benchmarks share: the engines under test, the docker CLI that drives them, and measuring helpers.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { join, resolve } from 'node:path'
import { removeChains, unmountUnder } from '../test/helpers/host-cleanup.ts'

export const repo = resolve(import.meta.dirname, '..')
export const docker = process.env['DOCKER_CLI'] ?? '/usr/local/bin/docker'
export const image = 'busybox:latest'

export interface Engine {
  name: string
  host: string
  proc: ChildProcess
  dir: string
}

/**
 * The longest any docker command may take (BENCH_COMMAND_TIMEOUT seconds, 120 by default). An engine that stops
 * answering (dockerd 20.10 once left three parallel `rm -f` hanging here) fails the run with a clear error rather
 * than holding it forever.
 */
export const commandTimeoutMs = Number(process.env['BENCH_COMMAND_TIMEOUT'] ?? 120) * 1000

export function sh(host: string, args: string[], input?: Buffer): { code: number; out: string; timedOut: boolean } {
  const r = spawnSync(docker, args, { env: { ...process.env, DOCKER_HOST: host }, input, maxBuffer: 1 << 30, timeout: commandTimeoutMs, killSignal: 'SIGKILL' })
  const timedOut = r.error !== undefined && 'code' in r.error && r.error.code === 'ETIMEDOUT'
  return { code: r.status ?? 1, out: r.stdout?.toString() ?? '', timedOut }
}

/** Why a docker command failed, for the error that ends the run. */
export function failure(host: string, args: string[], timedOut: boolean): Error {
  return new Error(`docker ${args.join(' ')} ${timedOut ? `did not finish within ${commandTimeoutMs / 1000} s` : 'failed'} against ${host}`)
}

/** Waits for the daemon to answer `/_ping`, asking every 10 ms. */
async function waitUp(host: string, proc: ChildProcess, name: string): Promise<void> {
  const socketPath = host.replace('unix://', '')
  const ping = (): Promise<boolean> =>
    new Promise((resolve) => {
      request({ socketPath, path: '/_ping', method: 'HEAD' }, (res) => {
        res.resume()
        resolve(res.statusCode === 200)
      })
        .on('error', () => resolve(false))
        .end()
    })
  for (let i = 0; i < 3000; i++) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}`)
    if (await ping()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`${name} did not come up`)
}

/**
 * A caisd on a temp dir of its own (or again on `dir`, the root of one stopped before), with busybox imported when
 * `imageTar` is given.
 */
export async function startCaisd(imageTar?: Buffer, dir = mkdtempSync('/tmp/cais-bench-'), extraArgs: string[] = []): Promise<Engine> {
  const host = `unix://${dir}/cais.sock`
  // Its own bridge, subnet and iptables chains, removed by stop().
  const net = ['--bridge-name', 'cbench0', '--bip', '10.239.0.1/24', '--default-address-pool', 'base=10.239.16.0/20,size=24', '--iptables-chain-prefix', 'CBENCH']
  const proc = spawn(join(repo, 'bin/caisd'), ['--root', join(dir, 'root'), '--exec-root', join(dir, 'run'), '-H', host, '--log-level', 'warn', ...net, ...extraArgs], { stdio: 'ignore' })
  await waitUp(host, proc, 'caisd')
  if (imageTar && sh(host, ['import', '--change', 'CMD ["sh"]', '-', image], imageTar).code !== 0) throw new Error('import into caisd failed')
  return { name: 'caisd', host, proc, dir }
}

/** Stops the daemon alone (SIGTERM; SIGKILL after 20 s), leaving its root and containers for a start on the same dir. */
export function stopDaemon(e: Engine): void {
  e.proc.kill('SIGTERM')
  // A zombie still answers kill -0: the state field tells an exited daemon from a running one.
  const gone = `s=$(cut -d' ' -f3 /proc/${e.proc.pid}/stat 2>/dev/null); [ -z "$s" ] || [ "$s" = Z ]`
  const r = spawnSync('sh', ['-c', `until ${gone}; do sleep 0.1; done`], { timeout: 20_000 })
  if (r.error) e.proc.kill('SIGKILL')
}

/**
 * Kills, by PID, every process whose command line names `dir` (an engine's own temp dir: its conmons, its
 * containerd and shims), and their descendants first.
 */
function killProcessesOf(dir: string): void {
  const children = processChildren()
  const started = [...children.values()].flat().filter((pid) => {
    try {
      return pid !== process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)
    } catch {
      return false // gone meanwhile
    }
  })
  const order: number[] = []
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) walk(c)
    order.push(pid)
  }
  for (const pid of started) walk(pid)
  for (const pid of new Set(order)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

/** Every process's children, by PID, from /proc. */
function processChildren(): Map<number, number[]> {
  const children = new Map<number, number[]>()
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    const stat = (() => {
      try {
        return readFileSync(`/proc/${p}/stat`, 'utf8')
      } catch {
        return ''
      }
    })()
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (ppid) children.set(ppid, [...(children.get(ppid) ?? []), Number(p)])
  }
  return children
}

/**
 * The cgroups an engine made for the containers in its root (`/sys/fs/cgroup/<controller>/<parent>/<id>`), once
 * empty: a wedged engine removed none of them.
 */
function removeContainerCgroups(containersDir: string, parent: 'docker' | 'cais'): void {
  const ids = existsSync(containersDir) ? readdirSync(containersDir).filter((id) => /^[a-f0-9]{64}$/.test(id)) : []
  for (const controller of ids.length > 0 && existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []) {
    for (const id of ids) {
      const dir = join('/sys/fs/cgroup', controller, parent, id)
      if (existsSync(dir)) spawnSync('rmdir', [dir], { stdio: 'ignore' })
    }
  }
}

/** The bench dockerd's bridge. */
const dockerdBridge = 'dbench0'

export async function startDockerd(imageTar: Buffer): Promise<Engine | undefined> {
  const dockerd = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find(existsSync)
  if (!dockerd) return undefined
  const dir = mkdtempSync('/tmp/dockerd-bench-')
  const host = `unix://${dir}/docker.sock`
  // Its own data root, exec root, pid file, socket and bridge, and no iptables rules, so the host is untouched.
  // Not --bridge=none: with it dockerd deletes docker0 at start, which breaks the host's own dockerd. A bridge
  // the bench makes (and stop() removes) leaves docker0 alone.
  spawnSync('ip', ['link', 'del', 'dev', dockerdBridge], { stdio: 'ignore' })
  for (const args of [['link', 'add', dockerdBridge, 'type', 'bridge'], ['addr', 'add', '10.238.255.1/24', 'dev', dockerdBridge], ['link', 'set', dockerdBridge, 'up']]) {
    if (spawnSync('ip', args).status !== 0) throw new Error(`ip ${args.join(' ')} failed`)
  }
  const proc = spawn(
    dockerd,
    ['--data-root', join(dir, 'root'), '--exec-root', join(dir, 'run'), '--pidfile', join(dir, 'docker.pid'), '-H', host, '--bridge', dockerdBridge, '--iptables=false', '--ip6tables=false'],
    { stdio: 'ignore' },
  )
  await waitUp(host, proc, 'dockerd')
  if (sh(host, ['import', '--change', 'CMD ["sh"]', '-', image], imageTar).code !== 0) throw new Error('import into dockerd failed')
  return { name: 'dockerd', host, proc, dir }
}

/**
 * Removes the engine's containers, stops it, and removes everything it made. With `runningOnly`, only running
 * containers are removed through the API: created ones hold no process, mount or address, and go with the root.
 */
export function stop(e: Engine, opts: { runningOnly?: boolean } = {}): void {
  // Through the API while the engine answers; one command that times out means it no longer does.
  const listed = sh(e.host, ['ps', '-q', ...(opts.runningOnly ? [] : ['-a'])])
  if (!listed.timedOut) {
    for (const id of listed.out.split('\n').filter(Boolean)) if (sh(e.host, ['rm', '-f', id]).timedOut) break
  }
  stopDaemon(e)
  // An engine that stopped answering leaves what it started: its monitors (conmon; containerd and its shims),
  // and their containers' processes.
  killProcessesOf(e.dir)
  removeContainerCgroups(join(e.dir, 'root', 'containers'), e.name === 'dockerd' ? 'docker' : 'cais')
  unmountUnder(e.dir)
  rmSync(e.dir, { recursive: true, force: true })
  if (e.name === 'caisd') {
    spawnSync('ip', ['link', 'del', 'dev', 'cbench0'])
    removeChains('CBENCH')
  } else spawnSync('ip', ['link', 'del', 'dev', dockerdBridge])
}

export function timeMs(host: string, args: string[]): number {
  const t0 = process.hrtime.bigint()
  const r = sh(host, args)
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.code !== 0) throw failure(host, args, r.timedOut)
  return ms
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}


/** A recorded answer of caisd's to GET `path`. */
export async function recorded(e: Engine, path: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    request({ socketPath: e.host.replace('unix://', ''), path }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks)))
    })
      .on('error', reject)
      .end()
  })
}

/** Resident memory (kB) of a process and all its descendants, from /proc. */
export function treeRssKb(rootPid: number): number {
  return treeRss(rootPid).reduce((sum, p) => sum + p.kb, 0)
}

/** Each process of a tree with its resident memory (kB): what BENCH_MEMORY_DETAIL=1 prints beside each reading. */
export function treeRss(rootPid: number): Array<{ pid: number; name: string; kb: number }> {
  const children = processChildren()
  const out: Array<{ pid: number; name: string; kb: number }> = []
  const walk = (pid: number): void => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      out.push({ pid, name: /Name:\s+(\S+)/.exec(status)?.[1] ?? '?', kb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) })
    } catch {
      // gone
    }
    for (const c of children.get(pid) ?? []) walk(c)
  }
  walk(rootPid)
  return out
}

/** The busybox image both engines import, made from Debian's busybox-static. */
export function busyboxImage(): Buffer {
  const dir = mkdtempSync('/tmp/cais-bench-image-')
  try {
    execFileSync(join(repo, 'scripts/busybox-image.sh'), [join(dir, 'busybox.tar')])
    return readFileSync(join(dir, 'busybox.tar'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
