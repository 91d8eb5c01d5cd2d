// Overlay networks on the cluster store (issue 19): two caisd nodes in network namespaces of their own on one
// Ethernet segment (test/helpers/hosts.ts), etcd on the first. Measures the time from starting a container on an overlay network on one node until
// the other node's embedded DNS knows its name (median of BENCH_ATTACHES), the time until a node killed with SIGKILL
// is forgotten by the other, against its lease TTL, and etcd's requests per attach (its own /metrics).
// See bench/README.md. Not part of the test command.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BUSYBOX, type Scope, type TestDaemon, startDaemon } from '../test/helpers/daemon.ts'
import { startEtcd } from '../test/helpers/etcd.ts'
import { testHosts } from '../test/helpers/hosts.ts'
import { repo } from './engines.ts'

const ATTACHES = Number(process.env['BENCH_ATTACHES'] ?? 50)
const TTL = Number(process.env['BENCH_TTL'] ?? 5)
const HEARTBEAT = 1
const KILLS = Number(process.env['BENCH_KILLS'] ?? 3)

const cleanups: Array<() => unknown> = []
const scope: Scope = { name: 'bench-cluster', after: (fn) => void cleanups.push(fn) }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!

/** The containers of other nodes the node's record holds: what its embedded DNS answers from. */
function remoteOf(d: TestDaemon, networkId: string): Record<string, { node: string }> {
  try {
    return (JSON.parse(readFileSync(join(d.root, 'networks', `${networkId}.json`), 'utf8')) as { overlay?: { remote: Record<string, { node: string }> } }).overlay?.remote ?? {}
  } catch {
    return {} // being rewritten: read again
  }
}

async function until(what: string, fn: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
}

/** etcd's gRPC requests served so far (all methods), and its puts, from its /metrics inside its namespace. */
function etcdCounters(netns: string, address: string): { requests: number; puts: number } {
  const text = execFileSync('ip', ['netns', 'exec', netns, process.execPath, '-e', `fetch('http://${address}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`], { encoding: 'utf8' })
  const sum = (re: RegExp): number => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0)
  return { requests: sum(/^grpc_server_handled_total\{[^}]*\} (\S+)$/gm), puts: sum(/^etcd_mvcc_put_total (\S+)$/gm) }
}

async function main(): Promise<void> {
  const { names, addrs } = testHosts(scope, 2)
  const etcd = await startEtcd(scope, { netns: names[0]!, host: addrs[0]! })
  const cluster = (i: number): string[] => ['--cluster-store', etcd.url, '--cluster-advertise', addrs[i]!, '--cluster-store-opt', `discovery.heartbeat=${HEARTBEAT}`, '--cluster-store-opt', `discovery.ttl=${TTL}`]
  const d1 = await startDaemon(scope, { netns: names[0]!, args: cluster(0), logLevel: false })
  const d2 = await startDaemon(scope, { netns: names[1]!, args: cluster(1), logLevel: false })
  const { Id: network } = await d2.client.networks.create({ Name: 'bench-ov', Driver: 'overlay', IPAM: { Config: [{ Subnet: `10.236.${process.pid % 200}.0/24` }] } })
  await until('the network on the first node', () => existsSync(join(d1.root, 'networks', `${network}.json`)), 10_000)

  // Attach → known on the other node.
  const known: number[] = []
  const startOnly: number[] = []
  const before = etcdCounters(names[0]!, etcd.address)
  for (let i = 0; i < ATTACHES; i++) {
    const { Id } = await d2.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'bench-ov' } }, { name: `a${i}` })
    const t0 = performance.now()
    await d2.client.containers.start(Id)
    startOnly.push(performance.now() - t0)
    await until(`a${i} on the other node`, () => Id in remoteOf(d1, network), 10_000)
    known.push(performance.now() - t0)
  }
  const after = etcdCounters(names[0]!, etcd.address)
  for (let i = 0; i < ATTACHES; i++) await d2.client.containers.remove(`a${i}`, { force: true })

  // A node killed: how long until the other forgets its containers, against the TTL.
  const detection: number[] = []
  for (let k = 0; k < KILLS; k++) {
    const { Id } = await d2.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'bench-ov' } }, { name: `victim${k}` })
    await d2.client.containers.start(Id)
    await until('the victim known', () => Id in remoteOf(d1, network), 10_000)
    const t0 = performance.now()
    await d2.kill9()
    await until('the dead node forgotten', () => !(Id in remoteOf(d1, network)), (TTL + 10) * 1000)
    detection.push(performance.now() - t0)
    await d2.start()
    await until('the node back', () => Id in remoteOf(d1, network), 20_000)
    await d2.client.containers.remove(Id, { force: true })
  }

  const results = {
    date: new Date().toISOString(),
    attaches: ATTACHES,
    'start on node 2, ms (median)': median(startOnly),
    'start → name known on node 1, ms (median)': median(known),
    'start → name known on node 1, ms (p90)': pct(known, 0.9),
    'dead node forgotten after, s (each)': detection.map((ms) => +(ms / 1000).toFixed(2)),
    'lease TTL, s': TTL,
    'etcd requests per attach': +((after.requests - before.requests) / ATTACHES).toFixed(1),
    'etcd puts per attach': +((after.puts - before.puts) / ATTACHES).toFixed(1),
  }
  for (const [k, v] of Object.entries(results)) process.stdout.write(`${k.padEnd(45)} ${Array.isArray(v) ? v.join(', ') : typeof v === 'number' ? v.toFixed(1) : v}\n`)
  mkdirSync(join(repo, 'bench/results'), { recursive: true })
  writeFileSync(join(repo, 'bench/results/cluster.json'), JSON.stringify(results, null, 2))
}

try {
  await main()
} finally {
  for (const fn of cleanups.reverse()) await fn()
}
