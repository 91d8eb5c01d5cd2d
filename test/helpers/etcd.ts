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

/** A one-member etcd (Debian's etcd-server) on loopback ports with a temp data dir; killed and removed in t.after. */
export async function startEtcd(t: Scope): Promise<TestEtcd> {
  if (!etcdBin) throw new Error('etcd is not installed (scripts/setup.sh installs etcd-server)')
  const dir = mkdtempSync('/tmp/cais-test-etcd-')
  const [client, peer] = [await freePort(), await freePort()]
  let child: ChildProcess | undefined
  let log = ''
  const start = async (): Promise<void> => {
    const c = spawn(
      etcdBin,
      [
        '--name', 'm1', '--data-dir', join(dir, 'data'),
        '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`,
        '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
        '--initial-cluster', `m1=http://127.0.0.1:${peer}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child = c
    c.stdout.on('data', (d: Buffer) => (log += d.toString()))
    c.stderr.on('data', (d: Buffer) => (log += d.toString()))
    await waitFor('etcd to serve', async () => {
      if (c.exitCode !== null) throw new Error(`etcd exited: ${log.slice(-2000)}`)
      const r = await fetch(`http://127.0.0.1:${client}/health`).catch(() => undefined)
      return r?.ok ? true : undefined
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
  return { address: `127.0.0.1:${client}`, url: `etcd://127.0.0.1:${client}`, log: () => log, kill, start }
}
