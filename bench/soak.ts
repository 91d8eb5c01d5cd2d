// caisd under churn for a long time (SOAK_MINUTES, 120 by default): a container started and removed every second,
// an exec and a logs read of a long-running one, and a stats stream open throughout. Every SOAK_SAMPLE_SECONDS
// (60) caisd's resident memory (with its helpers), open file descriptors, and its active timers, sockets and other
// handles (from its own metrics) are sampled. After the warm-up (the first 10% of the run) each must stay within
// 10% of its median; once caisd stops nothing of it may be left. See bench/README.md.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { EngineClient } from '../src/client/engine-client.ts'
import { freePort } from '../test/helpers/registry.ts'
import { busyboxImage, image, repo, startCaisd, stop, treeRssKb } from './engines.ts'

const minutes = Number(process.env['SOAK_MINUTES'] ?? 120)
const sampleSeconds = Number(process.env['SOAK_SAMPLE_SECONDS'] ?? 60)

const port = await freePort()
const e = await startCaisd(busyboxImage(), undefined, ['--metrics-addr', `127.0.0.1:${port}`])
const client = new EngineClient({ host: e.host })

/**
 * From caisd's own metrics: active resources by type (Timeout, TCPSocketWrap, PipeWrap, FSReqCallback, …), the
 * JavaScript heap in use, and the subscribers to its event bus (a listener per `/events` stream and per follower).
 */
function engineGauges(): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => {
        const out: Record<string, number> = {}
        for (const m of text.matchAll(/^nodejs_active_resources\{type="([^"]+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2])
        for (const m of text.matchAll(/^(nodejs_heap_size_used_bytes|engine_daemon_events_subscribers_total) (\d+(?:\.\d+)?)/gm)) out[m[1]!] = Number(m[2])
        resolve(out)
      })
    })
      .on('error', reject)
      .end()
  })
}

interface Sample {
  minute: number
  rssMb: number
  fds: number
  timers: number
  handles: number
  heapMb: number
  subscribers: number
  containers: number
}
const samples: Sample[] = []
const errors: string[] = []
const started = Date.now()
const deadline = started + minutes * 60_000
try {
  const { Id: resident } = await client.containers.create({ Image: image, Cmd: ['sh', '-c', 'trap "exit 0" TERM; while :; do echo tick; sleep 0.5; done'], HostConfig: { NetworkMode: 'none' } })
  await client.containers.start(resident)
  const abort = new AbortController()
  const statsStream = (async () => {
    for await (const _ of await client.containers.stats(resident, { stream: true, signal: abort.signal })) void _
  })().catch(() => {})

  // Samples are read between two rounds of churn: one read during a round counts that round's sockets and pipes.
  let churning = false
  const churn = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const t0 = Date.now()
      churning = true
      try {
        const { Id } = await client.containers.create({ Image: image, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } })
        await client.containers.start(Id)
        const { Id: exec } = await client.execs.create(resident, { Cmd: ['true'], AttachStdout: true })
        for await (const _ of (await client.execs.start(exec)).output) void _
        for await (const _ of await client.containers.logs(resident, { tail: '10' })) void _
        await client.containers.remove(Id, { force: true })
      } catch (err) {
        errors.push((err as Error).message)
      }
      churning = false
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t0))))
    }
  }
  const sampling = async (): Promise<void> => {
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, sampleSeconds * 1000))
      while (churning && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      const none: Record<string, number> = {}
      const gauges = await engineGauges().catch(() => none)
      const { nodejs_heap_size_used_bytes: heap = 0, engine_daemon_events_subscribers_total: subscribers = 0, ...active } = gauges
      const s: Sample = {
        minute: +((Date.now() - started) / 60_000).toFixed(1),
        rssMb: +(treeRssKb(e.proc.pid!) / 1024).toFixed(1),
        fds: readdirSync(`/proc/${e.proc.pid}/fd`).length,
        timers: active['Timeout'] ?? 0,
        handles: Object.values(active).reduce((a, b) => a + b, 0),
        heapMb: +(heap / 1048576).toFixed(1),
        subscribers,
        containers: (await client.containers.list({ all: true })).length,
      }
      samples.push(s)
      process.stdout.write(`${JSON.stringify(s)}\n`)
    }
  }
  await Promise.all([churn(), sampling()])
  abort.abort()
  await statsStream
  await client.containers.remove(resident, { force: true })
} finally {
  client.close()
  stop(e)
}

const warm = samples.slice(Math.ceil(samples.length / 10))
const flat: Record<string, { median: number; min: number; max: number; within10: boolean }> = {}
for (const key of ['rssMb', 'heapMb', 'fds', 'timers', 'handles', 'subscribers'] as const) {
  const xs = warm.map((s) => s[key]).sort((a, b) => a - b)
  const median = xs[xs.length >> 1] ?? 0
  // Small counts (a handful of timers) move by one or two: within 10% or within 2 of the median.
  const slack = Math.max(median * 0.1, key === 'rssMb' || key === 'heapMb' ? 0 : 2)
  flat[key] = { median, min: xs[0] ?? 0, max: xs.at(-1) ?? 0, within10: xs.every((x) => Math.abs(x - median) <= slack) }
}
// The heap in use is a sawtooth between collections: a sample says where in the tooth it fell, so it is reported,
// not judged; the resident size above is what must stay flat.
const judged = Object.entries(flat).filter(([key]) => key !== 'heapMb')
const report = { when: new Date().toISOString(), minutes, churnErrors: errors.length, firstErrors: errors.slice(0, 5), flat, samples }
mkdirSync(join(repo, 'bench/results'), { recursive: true })
writeFileSync(join(repo, 'bench/results/soak.json'), `${JSON.stringify(report, null, 2)}\n`)
process.stdout.write(`${JSON.stringify({ minutes, churnErrors: errors.length, flat }, null, 1)}\n`)
if (errors.length > 0 || judged.some(([, f]) => !f.within10)) process.exitCode = 1
