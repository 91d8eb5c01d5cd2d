import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Scope } from './daemon.ts'
import { waitFor } from './daemon.ts'
import { freePort } from './registry.ts'

export const etcdBin = ['/usr/bin/etcd', '/usr/local/bin/etcd'].find(existsSync)

export interface TestEtcd {
  /** `127.0.0.1:PORT`, the client address. */
  address: string
  /** What caisd's `--cluster-store` takes. */
  url: string
  log(): string
  kill(): Promise<void>
  start(): Promise<void>
}

/**
 * A one-member etcd (Debian's etcd-server) with a temp data dir, on loopback ports — or, given `netns` and `host`,
 * inside that network namespace on that address (where test "hosts" reach it). Killed and removed in t.after.
 */
export async function startEtcd(t: Scope, opts: { netns?: string; host?: string } = {}): Promise<TestEtcd> {
  if (!etcdBin) throw new Error('etcd is not installed (scripts/setup.sh installs etcd-server)')
  const dir = mkdtempSync('/tmp/cais-test-etcd-')
  const host = opts.host ?? '127.0.0.1'
  const [client, peer] = opts.netns ? [2379, 2380] : [await freePort(), await freePort()]
  let child: ChildProcess | undefined
  let log = ''
  const start = async (): Promise<void> => {
    const args = [
      '--name', 'm1', '--data-dir', join(dir, 'data'),
      '--listen-client-urls', `http://${host}:${client}`, '--advertise-client-urls', `http://${host}:${client}`,
      '--listen-peer-urls', `http://${host}:${peer}`, '--initial-advertise-peer-urls', `http://${host}:${peer}`,
      '--initial-cluster', `m1=http://${host}:${peer}`,
    ]
    const starts = (log.match(/ready to serve client requests/g) ?? []).length
    // `ip netns exec` execs etcd itself: the child's PID is etcd's.
    const c = opts.netns ? spawn('ip', ['netns', 'exec', opts.netns, etcdBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(etcdBin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child = c
    c.stdout.on('data', (d: Buffer) => (log += d.toString()))
    c.stderr.on('data', (d: Buffer) => (log += d.toString()))
    await waitFor('etcd to serve', () => {
      if (c.exitCode !== null) throw new Error(`etcd exited: ${log.slice(-2000)}`)
      return (log.match(/ready to serve client requests/g) ?? []).length > starts ? true : undefined
    }, 20_000)
  }
  const kill = async (): Promise<void> => {
    const c = child
    if (!c || c.exitCode !== null) return
    const exited = new Promise((r) => c.once('exit', r))
    c.kill('SIGKILL')
    await exited
  }
  t.after(async () => {
    await kill()
    rmSync(dir, { recursive: true, force: true })
  })
  await start()
  return { address: `${host}:${client}`, url: `etcd://${host}:${client}`, log: () => log, kill, start }
}
