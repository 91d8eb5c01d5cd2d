import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { type Scope, killAndWait, waitFor } from './daemon.ts'
import { freePort } from './registry.ts'

export const etcdBin = ['/usr/bin/etcd', '/usr/local/bin/etcd'].find(existsSync)

export interface EtcdMember {
  kill(): Promise<void>
  start(): Promise<void>
}

export interface TestEtcd {
  /** `HOST:PORT`, the first member's client address. */
  address: string
  /** What caisd's `--cluster-store` takes: every member. */
  url: string
  members: EtcdMember[]
  log(): string
  /** Kills (and `start` brings back) every member. */
  kill(): Promise<void>
  start(): Promise<void>
  /** The keys under a prefix, read through the first member's JSON gateway (inside its namespace when it has one). */
  keys(prefix: string): Promise<string[]>
  /** Revokes every lease, behind the nodes' backs (as if each had expired); how many there were. */
  revokeLeases(): Promise<number>
}

/**
 * An etcd cluster of `members` (default 1) of Debian's etcd-server, with temp data dirs, on loopback ports — or,
 * given `netns` and `host`, inside that network namespace on that address (where test "hosts" reach it), on ports
 * 2379/2380, 2479/2480, …. With `tls` (a directory made by `cais tls init`) clients speak HTTPS and must present a
 * certificate signed by its CA. Killed and removed in t.after.
 */
export async function startEtcd(t: Scope, opts: { netns?: string; host?: string; members?: number; tls?: string } = {}): Promise<TestEtcd> {
  if (!etcdBin) throw new Error('etcd is not installed (scripts/setup.sh installs etcd-server)')
  const bin = etcdBin
  const dir = mkdtempSync('/tmp/cais-test-etcd-')
  const host = opts.host ?? '127.0.0.1'
  const count = opts.members ?? 1
  const ports: Array<[number, number]> = []
  for (let i = 0; i < count; i++) ports.push(opts.netns ? [2379 + 100 * i, 2380 + 100 * i] : [await freePort(), await freePort()])
  const scheme = opts.tls ? 'https' : 'http'
  const tlsArgs = opts.tls ? ['--cert-file', join(opts.tls, 'server-cert.pem'), '--key-file', join(opts.tls, 'server-key.pem'), '--trusted-ca-file', join(opts.tls, 'ca.pem'), '--client-cert-auth'] : []
  const initialCluster = ports.map(([, peer], i) => `m${i + 1}=http://${host}:${peer}`).join(',')
  let log = ''
  const members = ports.map(([client, peer], i): EtcdMember => {
    let child: ChildProcess | undefined
    const name = `m${i + 1}`
    const start = async (): Promise<void> => {
      const args = [
        '--name', name, '--data-dir', join(dir, name),
        '--listen-client-urls', `${scheme}://${host}:${client}`, '--advertise-client-urls', `${scheme}://${host}:${client}`, ...tlsArgs,
        '--listen-peer-urls', `http://${host}:${peer}`, '--initial-advertise-peer-urls', `http://${host}:${peer}`,
        '--initial-cluster', initialCluster,
      ]
      let own = ''
      // `ip netns exec` execs etcd itself: the child's PID is etcd's.
      const c = opts.netns ? spawn('ip', ['netns', 'exec', opts.netns, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      child = c
      const take = (d: Buffer): void => {
        own += d.toString()
        log += d.toString()
      }
      c.stdout.on('data', take)
      c.stderr.on('data', take)
      // A member of a cluster serves once it has a leader: the first of several waits for the others.
      await waitFor(`etcd ${name} to start`, () => {
        if (c.exitCode !== null) throw new Error(`etcd ${name} exited: ${own.slice(-2000)}`)
        return /ready to serve client requests|serving insecure client requests|published .* to cluster/.test(own) || (count > 1 && /starting server|started streaming/.test(own)) ? true : undefined
      }, 20_000)
    }
    const kill = (): Promise<void> => killAndWait(child)
    return { start, kill }
  })
  const kill = async (): Promise<void> => {
    for (const m of members) await m.kill()
  }
  const ready = (): number => (log.match(/ready to serve client requests/g) ?? []).length
  const start = async (): Promise<void> => {
    const before = ready()
    await Promise.all(members.map((m) => m.start()))
    await waitFor('etcd to serve', () => (ready() > before ? true : undefined), 20_000)
  }
  t.after(async () => {
    await kill()
    rmSync(dir, { recursive: true, force: true })
  })
  await start()
  const [client] = ports[0]!
  /** One call to the first member's JSON gateway (inside its namespace when it has one), its answer parsed. */
  const gateway = <T>(path: string, body: unknown): T => {
    if (opts.tls) throw new Error('the gateway is called over plain HTTP only')
    const script = `fetch('http://${host}:${client}${path}', { method: 'POST', body: ${JSON.stringify(JSON.stringify(body))} }).then((r) => r.text()).then((t) => process.stdout.write(t))`
    const out = opts.netns
      ? execFileSync('ip', ['netns', 'exec', opts.netns, process.execPath, '-e', script], { encoding: 'utf8' })
      : execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    return JSON.parse(out) as T
  }
  const keys = async (prefix: string): Promise<string[]> => {
    const b64 = (x: string): string => Buffer.from(x).toString('base64')
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
    const res = gateway<{ kvs?: Array<{ key: string }> }>('/v3/kv/range', { key: b64(prefix), range_end: b64(end), keys_only: true })
    return (res.kvs ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString())
  }
  const revokeLeases = async (): Promise<number> => {
    const { leases } = gateway<{ leases?: Array<{ ID: string }> }>('/v3/lease/leases', {})
    for (const { ID } of leases ?? []) gateway('/v3/lease/revoke', { ID })
    return (leases ?? []).length
  }
  return { address: `${host}:${client}`, url: `etcd://${ports.map(([c]) => `${host}:${c}`).join(',')}`, members, log: () => log, kill, start, keys, revokeLeases }
}
