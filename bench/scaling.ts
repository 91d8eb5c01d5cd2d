// How caisd's costs grow with the number of containers (created, not running): ps, inspect, create, event
// delivery, memory and start-up, at 100, 1,000 and 5,000 containers. See bench/README.md.
import { Agent, request } from 'node:http'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Engine, busyboxImage, image, median, repo, startCaisd, stop, stopDaemon, timeMs, treeRssKb } from './engines.ts'

const steps = (process.env['SCALING_STEPS'] ?? '100,1000,5000').split(',').map(Number)
const agent = new Agent({ keepAlive: true, maxSockets: 10 })

interface Reply {
  status: number
  body: Buffer
  ms: number
}

function api(e: Engine, method: string, path: string, body?: unknown): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  const t0 = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: e.host.replace('unix://', ''), agent, method, path: `/v1.50${path}`, headers: payload ? { 'Content-Type': 'application/json' } : {} },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: Number(process.hrtime.bigint() - t0) / 1e6 }))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

async function ok(e: Engine, method: string, path: string, body?: unknown): Promise<Reply> {
  const r = await api(e, method, path, body)
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body.toString()}`)
  return r
}

const createBody = { Image: image, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } }

/** Creates containers `scale-<from>` … `scale-<to - 1>`, 10 requests at a time. */
async function createUpTo(e: Engine, from: number, to: number): Promise<void> {
  let next = from
  const worker = async (): Promise<void> => {
    for (let i = next++; i < to; i = next++) await ok(e, 'POST', `/containers/create?name=scale-${i}`, createBody)
  }
  await Promise.all(Array.from({ length: 10 }, worker))
}

async function medianOf(n: number, sample: (i: number) => Promise<number>): Promise<number> {
  const xs: number[] = []
  for (let i = 0; i < n; i++) xs.push(await sample(i))
  return median(xs)
}

/** From a create request to its `create` event on a live /events stream, 20 times (the containers go after). */
async function eventDelivery(e: Engine, n: number): Promise<{ createMs: number; deliveryMs: number }> {
  const waiting = new Map<string, (t: bigint) => void>()
  const stream = request({ socketPath: e.host.replace('unix://', ''), path: '/v1.50/events?filters=' + encodeURIComponent(JSON.stringify({ event: ['create'] })) })
  await new Promise<void>((resolve, reject) => {
    stream.on('response', (res) => {
      let buf = ''
      res.on('data', (c: Buffer) => {
        const t = process.hrtime.bigint()
        buf += c.toString()
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const ev = JSON.parse(buf.slice(0, nl)) as { Actor: { Attributes: { name?: string } } }
          buf = buf.slice(nl + 1)
          waiting.get(ev.Actor.Attributes.name ?? '')?.(t)
        }
      })
      resolve()
    })
    stream.on('error', reject)
    stream.end()
  })
  const creates: number[] = []
  const deliveries: number[] = []
  for (let i = 0; i < 20; i++) {
    const name = `scale-event-${n}-${i}`
    const t0 = process.hrtime.bigint()
    const arrived = new Promise<bigint>((resolve) => waiting.set(name, resolve))
    creates.push((await ok(e, 'POST', `/containers/create?name=${name}`, createBody)).ms)
    deliveries.push(Number((await arrived) - t0) / 1e6)
  }
  stream.destroy()
  for (let i = 0; i < 20; i++) await ok(e, 'DELETE', `/containers/scale-event-${n}-${i}`)
  return { createMs: median(creates), deliveryMs: median(deliveries) }
}

async function main(): Promise<void> {
  let e = await startCaisd(busyboxImage())
  const rows: Array<Record<string, number>> = []
  try {
    let have = 0
    for (const n of steps) {
      await createUpTo(e, have, n)
      have = n
      const ids = (JSON.parse((await ok(e, 'GET', '/containers/json?all=1')).body.toString()) as Array<{ Id: string }>).map((c) => c.Id)
      if (ids.length !== n) throw new Error(`expected ${n} containers, the daemon lists ${ids.length}`)
      const pick = (i: number): number => (i * 7919) % n
      const row: Record<string, number> = { containers: n }
      row['API list all (ms)'] = await medianOf(10, async () => (await ok(e, 'GET', '/containers/json?all=1')).ms)
      row['API list, name filter (ms)'] = await medianOf(10, async (i) => (await ok(e, 'GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: [`scale-${pick(i)}$`] }))}`)).ms)
      row['docker ps -a (ms)'] = await medianOf(5, async () => timeMs(e.host, ['ps', '-a']))
      row['API inspect by name (ms)'] = await medianOf(50, async (i) => (await ok(e, 'GET', `/containers/scale-${pick(i)}/json`)).ms)
      row['API inspect by ID prefix (ms)'] = await medianOf(50, async (i) => (await ok(e, 'GET', `/containers/${ids[pick(i)]!.slice(0, 12)}/json`)).ms)
      row['docker inspect (ms)'] = await medianOf(5, async (i) => timeMs(e.host, ['inspect', `scale-${pick(i)}`]))
      const events = await eventDelivery(e, n)
      row['API create (ms)'] = events.createMs
      row['create → event delivered (ms)'] = events.deliveryMs
      row['daemon memory (MB)'] = treeRssKb(e.proc.pid!) / 1024
      // Start-up: the store read back, every container reconciled, until /_ping answers.
      stopDaemon(e)
      const t0 = process.hrtime.bigint()
      e = await startCaisd(undefined, e.dir)
      row['daemon start until /_ping (ms)'] = Number(process.hrtime.bigint() - t0) / 1e6
      rows.push(row)
      console.log(`${n} containers: ${JSON.stringify(row)}`)
    }
  } finally {
    stop(e, { runningOnly: true })
  }
  const names = Object.keys(rows[0] ?? {}).filter((k) => k !== 'containers')
  const header = ['measure', ...rows.map((r) => `${r['containers']} containers`), ...(rows.length > 1 ? [`${steps.at(-1)}/${steps[0]}`] : [])]
  const table = names.map((k) => [k, ...rows.map((r) => r[k]!.toFixed(1)), ...(rows.length > 1 ? [(rows.at(-1)![k]! / rows[0]![k]!).toFixed(1) + '×'] : [])])
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)))
  for (const r of [header, ...table]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('   '))
  mkdirSync(join(repo, 'bench/results'), { recursive: true })
  writeFileSync(join(repo, 'bench/results/scaling.json'), JSON.stringify({ date: new Date().toISOString(), rows }, null, 2))
}

await main()
