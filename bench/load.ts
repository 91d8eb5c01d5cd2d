// caisd under load, alone: 64 API clients at once on a mix of reads and writes (LOAD_SECONDS, 600 by default), then
// 1,000 streams open at once (500 /events, 500 `logs -f`), then 500 containers running at once. Reports requests,
// errors, p50/p99/max latency per call, the streams' event delivery and memory. See bench/README.md.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EngineClient } from '../src/client/engine-client.ts'
import { busyboxImage, image, repo, startCaisd, stop, treeRssKb } from './engines.ts'

const seconds = Number(process.env['LOAD_SECONDS'] ?? 600)
const clients = Number(process.env['LOAD_CLIENTS'] ?? 64)
const streams = Number(process.env['LOAD_STREAMS'] ?? 1000)
const running = Number(process.env['LOAD_RUNNING'] ?? 500)
const slowMs = 5000

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
/** caisd with its helpers (its process tree). */
const rssKb = (pid: number): number => treeRssKb(pid)
const LOOP = ['sh', '-c', 'trap "exit 0" TERM; while :; do echo tick; sleep 1; done']

async function drain(g: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of g) void _
}

const e = await startCaisd(busyboxImage())
const host = e.host
const admin = new EngineClient({ host })
const report: Record<string, unknown> = { when: new Date().toISOString(), seconds, clients }
try {
  // ---- 1. mixed load
  const targets: string[] = []
  for (let i = 0; i < 8; i++) {
    const { Id } = await admin.containers.create({ Image: image, Cmd: LOOP, HostConfig: { NetworkMode: 'none' } }, { name: `load-target-${i}` })
    await admin.containers.start(Id)
    targets.push(Id)
  }
  const latencies = new Map<string, number[]>()
  const errors: string[] = []
  const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!
  const calls: Array<[string, number, (c: EngineClient) => Promise<unknown>]> = [
    ['list', 30, (c) => c.containers.list({ all: true })],
    ['inspect', 20, (c) => c.containers.inspect(pick(targets))],
    ['logs', 15, async (c) => drain(await c.containers.logs(pick(targets), { tail: '20' }))],
    ['events', 10, async (c) => drain(await c.system.events({ since: String(Math.floor(Date.now() / 1000) - 5), until: String(Math.floor(Date.now() / 1000)) }))],
    [
      'exec',
      10,
      async (c) => {
        const { Id } = await c.execs.create(pick(targets), { Cmd: ['true'], AttachStdout: true, AttachStderr: true })
        await drain((await c.execs.start(Id)).output)
      },
    ],
    [
      'create/start/rm',
      15,
      async (c) => {
        const { Id } = await c.containers.create({ Image: image, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } })
        await c.containers.start(Id)
        await c.containers.remove(Id, { force: true })
      },
    ],
  ]
  const total = calls.reduce((s, [, w]) => s + w, 0)
  const deadline = Date.now() + seconds * 1000
  const rssBefore = rssKb(e.proc.pid!)
  process.stdout.write(`mixed load: ${clients} clients for ${seconds} s\n`)
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new EngineClient({ host })
      while (Date.now() < deadline) {
        let r = Math.random() * total
        const [name, , call] = calls.find(([, w]) => (r -= w) < 0) ?? calls[0]!
        const t0 = performance.now()
        try {
          await call(c)
        } catch (err) {
          errors.push(`${name}: ${(err as Error).message}`)
        }
        const ms = performance.now() - t0
        latencies.set(name, [...(latencies.get(name) ?? []), ms])
      }
      c.close()
    }),
  )
  const all = [...latencies.values()].flat().sort((a, b) => a - b)
  const rows = [...latencies].map(([name, xs]) => {
    const s = [...xs].sort((a, b) => a - b)
    return { call: name, requests: s.length, p50: +quantile(s, 0.5).toFixed(1), p99: +quantile(s, 0.99).toFixed(1), max: +s.at(-1)!.toFixed(1) }
  })
  const mixed = {
    requests: all.length,
    perSecond: +(all.length / seconds).toFixed(1),
    errors: errors.length,
    firstErrors: errors.slice(0, 5),
    over5s: all.filter((x) => x > slowMs).length,
    p50: +quantile(all, 0.5).toFixed(1),
    p99: +quantile(all, 0.99).toFixed(1),
    max: +all.at(-1)!.toFixed(1),
    calls: rows,
    caisdRssMbBefore: +(rssBefore / 1024).toFixed(1),
    caisdRssMbAfter: +(rssKb(e.proc.pid!) / 1024).toFixed(1),
  }
  report['mixed'] = mixed
  process.stdout.write(`${JSON.stringify(mixed, null, 1)}\n`)

  // ---- 2. 1,000 streams open at once
  const abort = new AbortController()
  const opened: Promise<unknown>[] = []
  const delivered: Array<Promise<number>> = []
  let created = 0
  const rssStreamsBefore = rssKb(e.proc.pid!)
  const streamClient = new EngineClient({ host })
  for (let i = 0; i < streams; i++) {
    if (i % 2 === 0) {
      const events = streamClient.system.events({ filters: { event: ['create'] }, signal: abort.signal })
      opened.push(events)
      delivered.push(
        events.then(
          (s) =>
            new Promise<number>((resolve) => {
              s.once('data', () => resolve(performance.now() - created))
              s.on('error', () => {})
            }),
        ),
      )
    } else {
      const logs = streamClient.containers.logs(targets[i % targets.length]!, { follow: true, tail: '0', signal: abort.signal })
      opened.push(logs.then((g) => void drain(g).catch(() => {})))
    }
  }
  const t0 = performance.now()
  const settled = await Promise.allSettled(opened)
  const openMs = performance.now() - t0
  const refusals = settled.flatMap((s) => (s.status === 'rejected' ? [String((s.reason as Error)?.message ?? s.reason)] : []))
  const failedToOpen = refusals.length
  const rssStreams = rssKb(e.proc.pid!)
  created = performance.now()
  await admin.containers.create({ Image: image, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } }, { name: 'load-event' })
  const deliveries = (await Promise.all(delivered.map((p) => Promise.race([p, new Promise<number>((r) => setTimeout(() => r(Infinity), 10_000))])))).sort((a, b) => a - b)
  abort.abort()
  streamClient.close()
  const streamReport = {
    streams,
    openMs: +openMs.toFixed(0),
    failedToOpen,
    firstRefusals: [...new Set(refusals)].slice(0, 3),
    eventStreams: deliveries.length,
    deliveredToAll: deliveries.every(Number.isFinite),
    deliveryP50Ms: +quantile(deliveries, 0.5).toFixed(1),
    deliveryMaxMs: +deliveries.at(-1)!.toFixed(1),
    caisdRssMbBefore: +(rssStreamsBefore / 1024).toFixed(1),
    caisdRssMbOpen: +(rssStreams / 1024).toFixed(1),
    kbPerStream: +((rssStreams - rssStreamsBefore) / streams).toFixed(1),
  }
  report['streams'] = streamReport
  process.stdout.write(`${JSON.stringify(streamReport, null, 1)}\n`)
  await admin.containers.remove('load-event', { force: true })

  // ---- 3. many containers running at once
  for (const id of targets) await admin.containers.remove(id, { force: true })
  await new Promise((r) => setTimeout(r, 2000))
  const caisdIdle = rssKb(e.proc.pid!)
  let next = 0
  const t1 = performance.now()
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      const c = new EngineClient({ host })
      for (let i = next++; i < running; i = next++) {
        const { Id } = await c.containers.create({ Image: image, Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } }, { name: `load-run-${i}` })
        await c.containers.start(Id)
      }
      c.close()
    }),
  )
  const startAllMs = performance.now() - t1
  const listed = await admin.containers.list({ filters: { status: ['running'] } })
  const t2 = performance.now()
  await admin.containers.list()
  const listMs = performance.now() - t2
  // The engine's cost per container: caisd's growth, and the container's conmon (daemonised, so outside caisd's
  // process tree; crun exits once the container runs). The containers' own processes are the workload's.
  const caisdWith = rssKb(e.proc.pid!)
  const conmonKb = sumConmonRssKb(e.dir)
  const many = {
    running: listed.length,
    startAllSeconds: +(startAllMs / 1000).toFixed(1),
    listRunningMs: +listMs.toFixed(1),
    caisdRssMbIdle: +(caisdIdle / 1024).toFixed(1),
    caisdRssMbWith: +(caisdWith / 1024).toFixed(1),
    caisdKbPerContainer: +((caisdWith - caisdIdle) / running).toFixed(1),
    conmonKbPerContainer: +(conmonKb / listed.length).toFixed(1),
  }
  report['running'] = many
  process.stdout.write(`${JSON.stringify(many, null, 1)}\n`)
} finally {
  admin.close()
  stop(e)
}
mkdirSync(join(repo, 'bench/results'), { recursive: true })
writeFileSync(join(repo, 'bench/results/load.json'), `${JSON.stringify(report, null, 2)}\n`)

/** The resident memory of the conmons serving containers under `dir`. */
function sumConmonRssKb(dir: string): number {
  let kb = 0
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      if (!argv[0]?.endsWith('conmon') || !argv.some((a) => a.includes(dir))) continue
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
    } catch {
      // gone meanwhile
    }
  }
  return kb
}
