// The registry server side by side with Debian's docker-registry (distribution 2.8), both on loopback: blob upload
// and download throughput (8 concurrent clients, 100 MB blobs, 800 MB each way), manifest GET latency under 64
// concurrent clients, and the servers' resident memory at rest, after the uploads and after the downloads.
// See bench/README.md. Not part of the test command.
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { freePort } from '../test/helpers/registry.ts'
import { repo } from './engines.ts'

const BLOBS = Number(process.env['BENCH_BLOBS'] ?? 8)
const BLOB_MB = Number(process.env['BENCH_BLOB_MB'] ?? 100)
const MANIFEST_CLIENTS = 64
const MANIFEST_GETS = Number(process.env['BENCH_MANIFEST_GETS'] ?? 50)
const REST_MS = Number(process.env['BENCH_REST_SECONDS'] ?? 15) * 1000

interface Server {
  name: string
  url: string
  proc: ChildProcess
  dir: string
}

async function waitUp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${url}/v2/`).catch(() => undefined))?.status === 200) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${url} did not come up`)
}

async function startOurs(): Promise<Server> {
  const dir = mkdtempSync('/tmp/cais-bench-registry-')
  const port = await freePort()
  const proc = spawn(join(repo, 'bin/cais-registry'), ['serve', '--addr', `127.0.0.1:${port}`, '--root', join(dir, 'data')], { stdio: 'ignore' })
  const url = `http://127.0.0.1:${port}`
  await waitUp(url)
  return { name: 'cais registry', url, proc, dir }
}

async function startReference(): Promise<Server | undefined> {
  const dir = mkdtempSync('/tmp/cais-bench-docker-registry-')
  const port = await freePort()
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`)
  const proc = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' })
  const ok = await new Promise<boolean>((resolve) => {
    proc.once('error', () => resolve(false))
    setTimeout(() => resolve(true), 100)
  })
  if (!ok) return undefined
  const url = `http://127.0.0.1:${port}`
  await waitUp(url)
  return { name: 'docker-registry', url, proc, dir }
}

/** CPU seconds the process has used (user + system, all its threads). */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024

/** Blob `i`: a megabyte of its own, then BLOB_MB - 1 copies of a shared random megabyte (made once). */
const shared = randomFillSync(Buffer.alloc(1024 * 1024))
function* blobChunks(i: number): Generator<Buffer> {
  const own = Buffer.alloc(1024 * 1024, i + 1)
  own.writeUInt32BE(i, 0)
  yield own
  for (let k = 1; k < BLOB_MB; k++) yield shared
}
const blobDigest = (i: number): string => {
  const h = createHash('sha256')
  for (const c of blobChunks(i)) h.update(c)
  return `sha256:${h.digest('hex')}`
}

function call(url: string, opts: { method: string; body?: Readable | Buffer; headers?: Record<string, string>; agent: Agent; drain?: boolean }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method, agent: opts.agent, headers: opts.headers ?? {} }, (res) => {
      let bytes = 0
      res.on('data', (c: Buffer) => (bytes += c.length))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (opts.body instanceof Readable) opts.body.pipe(req)
    else req.end(opts.body)
  })
}

async function measure(server: Server, digests: string[]): Promise<Record<string, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: MANIFEST_CLIENTS })
  const out: Record<string, number> = { 'RSS at rest (MiB)': rssMiB(server.proc.pid!) }
  const total = BLOBS * BLOB_MB
  // Sampled through the whole run: what "under load" means in the target.
  let peakAll = 0
  const allSampler = setInterval(() => (peakAll = Math.max(peakAll, rssMiB(server.proc.pid!))), 50)
  // Uploads: POST, then PUT with the whole blob and its digest (the monolithic flavour every registry takes).
  let cpu0 = cpuSeconds(server.proc.pid!)
  let t0 = performance.now()
  await Promise.all(
    digests.map(async (digest, i) => {
      const started = await call(`${server.url}/v2/bench/blobs/blobs/uploads/`, { method: 'POST', agent })
      const location = new URL(String(started.headers['location']), server.url)
      location.searchParams.set('digest', digest)
      const put = await call(location.toString(), { method: 'PUT', agent, body: Readable.from(blobChunks(i)), headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(BLOB_MB * 1024 * 1024) } })
      if (put.status !== 201) throw new Error(`${server.name}: upload answered ${put.status}`)
    }),
  )
  out['upload MB/s'] = total / ((performance.now() - t0) / 1000)
  out['server CPU s per GB uploaded'] = ((cpuSeconds(server.proc.pid!) - cpu0) * 1024) / total
  out['RSS after uploads (MiB)'] = rssMiB(server.proc.pid!)
  cpu0 = cpuSeconds(server.proc.pid!)
  t0 = performance.now()
  await Promise.all(
    digests.map(async (digest) => {
      const got = await call(`${server.url}/v2/bench/blobs/blobs/${digest}`, { method: 'GET', agent })
      if (got.bytes !== BLOB_MB * 1024 * 1024) throw new Error(`${server.name}: download of ${got.bytes} bytes`)
    }),
  )
  out['download MB/s'] = total / ((performance.now() - t0) / 1000)
  out['server CPU s per GB downloaded'] = ((cpuSeconds(server.proc.pid!) - cpu0) * 1024) / total
  out['RSS after downloads (MiB)'] = rssMiB(server.proc.pid!)
  // A small manifest, then 64 clients reading it by tag.
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`
  const up = await call(`${server.url}/v2/bench/app/blobs/uploads/`, { method: 'POST', agent })
  const loc = new URL(String(up.headers['location']), server.url)
  loc.searchParams.set('digest', configDigest)
  await call(loc.toString(), { method: 'PUT', agent, body: config, headers: { 'Content-Length': String(config.length) } })
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers: [] })
  const put = await call(`${server.url}/v2/bench/app/manifests/v1`, { method: 'PUT', agent, body: Buffer.from(manifest), headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': String(manifest.length) } })
  if (put.status !== 201) throw new Error(`${server.name}: manifest PUT answered ${put.status}`)
  const latencies: number[] = []
  let peak = 0
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(server.proc.pid!))), 50)
  t0 = performance.now()
  await Promise.all(
    Array.from({ length: MANIFEST_CLIENTS }, async () => {
      for (let k = 0; k < MANIFEST_GETS; k++) {
        const s = performance.now()
        const r = await call(`${server.url}/v2/bench/app/manifests/v1`, { method: 'GET', agent, headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })
        if (r.status !== 200) throw new Error(`${server.name}: manifest GET answered ${r.status}`)
        latencies.push(performance.now() - s)
      }
    }),
  )
  clearInterval(sampler)
  out['manifest GETs/s (64 clients)'] = latencies.length / ((performance.now() - t0) / 1000)
  latencies.sort((a, b) => a - b)
  out['manifest GET p50 (ms)'] = latencies[Math.floor(latencies.length * 0.5)]!
  out['manifest GET p99 (ms)'] = latencies[Math.floor(latencies.length * 0.99)]!
  out['peak RSS under manifest load (MiB)'] = peak
  clearInterval(allSampler)
  out['peak RSS under any load (MiB)'] = peakAll
  agent.destroy()
  // What a long-running server gives back once the work is over.
  await new Promise((r) => setTimeout(r, REST_MS))
  out['RSS at rest after the work (MiB)'] = rssMiB(server.proc.pid!)
  return out
}

async function main(): Promise<void> {
  const digests = Array.from({ length: BLOBS }, (_, i) => blobDigest(i))
  const servers: Server[] = []
  try {
    servers.push(await startOurs())
    const reference = await startReference()
    if (reference) servers.push(reference)
    else process.stdout.write("docker-registry is not installed (apt-get install docker-registry): measuring ours alone\n")
    const results: Record<string, Record<string, number>> = {}
    for (const s of servers) results[s.name] = await measure(s, digests)
    const names = servers.map((s) => s.name)
    const rows = Object.keys(results[names[0]!]!).map((k) => [k, ...names.map((n) => results[n]![k]!.toFixed(1)), ...(names.length > 1 ? [`${(results[names[0]!]![k]! / results[names[1]!]![k]!).toFixed(2)}×`] : [])])
    const header = ['', ...names, ...(names.length > 1 ? ['ours/theirs'] : [])]
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    for (const r of [header, ...rows]) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('   ')}\n`)
    mkdirSync(join(repo, 'bench/results'), { recursive: true })
    writeFileSync(join(repo, 'bench/results/registry.json'), JSON.stringify({ date: new Date().toISOString(), blobs: BLOBS, blobMB: BLOB_MB, results }, null, 2))
  } finally {
    for (const s of servers) {
      s.proc.kill('SIGKILL')
      rmSync(s.dir, { recursive: true, force: true })
    }
  }
}

await main()
