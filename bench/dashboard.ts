// The dashboard under load, each figure beside what the docker CLI takes for the same job, on caisd (and on dockerd
// where installed, the same dashboard driving it): first paint of the containers view with 500 containers (vs
// `docker ps -a`), keystroke echo in the terminal (vs a keystroke through a raw `exec -it` session on the API),
// filtering a million log lines (vs `docker logs | grep`), the dashboard's CPU and memory with 50 containers
// streaming stats to 3 tabs (vs `docker stats` for the same 50), and the layer index of a 500 MB image (vs
// `docker save > /dev/null`). Writes bench/results/dashboard.json.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import tar from 'tar-stream'
import { EngineClient } from '../src/client/engine-client.ts'
import { type Engine, busyboxImage, docker, median, repo, sh, startCaisd, startDockerd, stop, treeRssKb } from './engines.ts'

const containers = Number(process.env['BENCH_CONTAINERS'] ?? 500)
const streamed = Number(process.env['BENCH_STATS_CONTAINERS'] ?? 50)
const logLines = Number(process.env['BENCH_LOG_LINES'] ?? 1_000_000)
const imageMb = Number(process.env['BENCH_IMAGE_MB'] ?? 500)

declare const document: {
  querySelector(selector: string): { textContent: string | null } | null
  querySelectorAll(selector: string): { length: number } & Iterable<{ textContent: string | null }>
}
declare const location: { host: string }
declare const WebSocket: new (url: string) => { onmessage: (e: { data: string }) => void; onclose: () => void }

interface Dashboard {
  url: string
  origin: string
  proc: ChildProcess
}

async function startDashboard(host: string, dir: string): Promise<Dashboard> {
  const proc = spawn(join(repo, 'bin/cais'), ['dashboard', '--listen', '127.0.0.1:0', '--state-dir', join(dir, 'dashboard-state')], {
    env: { ...process.env, CAIS_HOST: host, XDG_CACHE_HOME: join(dir, 'cache'), XDG_STATE_HOME: join(dir, 'state') },
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /(http:\/\/\S+\?token=\S+)/.exec(out)
      if (m) resolve(m[1]!)
    })
    proc.once('exit', (code) => reject(new Error(`cais dashboard exited with ${code}`)))
  })
  return { url, origin: new URL(url).origin, proc }
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6
const timed = (fn: () => void): number => {
  const t0 = process.hrtime.bigint()
  fn()
  return ms(t0)
}

/** CPU seconds a process and its children used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100
}

/** A 500 MB image: files of random bytes (incompressible, so the save is as big as the image). */
async function bigImage(host: string, mb: number): Promise<void> {
  const pack = tar.pack()
  const child = spawn(docker, ['-H', host, 'import', '-', 'big:bench'], { stdio: ['pipe', 'ignore', 'inherit'] })
  pack.pipe(child.stdin)
  const chunk = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < mb; i++) {
    for (let j = 0; j < chunk.length; j += 4) chunk.writeUInt32LE((Math.random() * 0xffffffff) >>> 0, j)
    await new Promise<void>((r, f) => pack.entry({ name: `data/${Math.floor(i / 100)}/file-${i}`, size: chunk.length }, chunk, (err) => (err ? f(err) : r())))
  }
  pack.finalize()
  await new Promise<void>((r, f) => child.once('exit', (code) => (code === 0 ? r() : f(new Error(`import failed: ${code}`)))))
}

async function bench(e: Engine): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  const client = new EngineClient({ host: e.host })
  const dir = mkdtempSync('/tmp/cais-bench-dashboard-')
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'] })
  let dash: Dashboard | undefined
  try {
    process.stderr.write(`${e.name}: ${containers} containers…\n`)
    const batch = 20
    for (let i = 0; i < containers; i += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, containers - i) }, (_, j) => client.containers.create({ Image: 'busybox:latest', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } }, { name: `idle-${i + j}` })))
    }
    dash = await startDashboard(e.host, dir)
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
    const page = await context.newPage()
    await page.goto(dash.url)
    await page.waitForSelector('nav.sidebar')
    const paints: number[] = []
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint()
      await page.goto(`${dash.origin}/#/containers`)
      await page.reload()
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=containers] tbody tr').length >= n, containers, { timeout: 60_000 })
      paints.push(ms(t0))
    }
    out['firstPaintMs'] = median(paints)
    out['dockerPsMs'] = median(Array.from({ length: 5 }, () => timed(() => sh(e.host, ['ps', '-a']))))

    // Keystroke echo: a shell in a container, a character typed, until it shows in the terminal.
    const { Id: shell } = await client.containers.create({ Image: 'busybox:latest', Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } }, { name: 'shell' })
    await client.containers.start(shell)
    await page.goto(`${dash.origin}/#/containers/${shell}/terminal`)
    await page.waitForSelector('[data-testid=terminal-status]:text("connected")')
    await page.locator('[data-testid=terminal]').click()
    await page.waitForFunction(() => [...document.querySelectorAll('.xterm-rows > div')].some((r) => r.textContent?.includes('#')))
    // Measured in the page: a key event into the terminal, until its echo is on screen (a frame of rendering included).
    const echoes = await page.evaluate<number[]>(`(async () => {
      const input = document.querySelector('.xterm-helper-textarea')
      const rows = document.querySelector('.xterm-rows')
      const count = () => rows.textContent.split('x').length - 1
      const out = []
      for (let i = 0; i < 100; i++) {
        const before = count()
        const t0 = performance.now()
        await new Promise((resolve) => {
          const seen = new MutationObserver(() => {
            if (count() > before) {
              seen.disconnect()
              resolve()
            }
          })
          seen.observe(rows, { childList: true, subtree: true, characterData: true })
          input.dispatchEvent(new KeyboardEvent('keydown', { key: 'x', code: 'KeyX', keyCode: 88, bubbles: true }))
          input.dispatchEvent(new KeyboardEvent('keypress', { key: 'x', code: 'KeyX', charCode: 120, keyCode: 120, bubbles: true }))
        })
        out.push(performance.now() - t0)
      }
      return out
    })()`)
    out['keystrokeEchoMedianMs'] = median(echoes)
    const { Id: execId } = await client.execs.create(shell, { Cmd: ['sh'], Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true })
    const session = await client.execs.start(execId, { tty: true })
    const raw: number[] = []
    const it = session.output[Symbol.asyncIterator]()
    await it.next()
    for (let i = 0; i < 100; i++) {
      const t0 = process.hrtime.bigint()
      session.socket.write('x')
      await it.next()
      raw.push(ms(t0))
    }
    session.socket.destroy()
    out['apiExecEchoMedianMs'] = median(raw)

    process.stderr.write(`${e.name}: ${logLines} log lines…\n`)
    const { Id: talker } = await client.containers.create({ Image: 'busybox:latest', Cmd: ['seq', '1', String(logLines)], HostConfig: { NetworkMode: 'none' } }, { name: 'talker' })
    await client.containers.start(talker)
    await (await client.containers.wait(talker)).result
    await page.goto(`${dash.origin}/#/containers/${talker}/logs`)
    await page.waitForFunction((n) => document.querySelector('[data-testid=log-count]')?.textContent === `${n} of ${n} lines`, logLines, { timeout: 120_000 })
    const filters: number[] = []
    for (const pattern of ['^99', '7$', '^1234', '5.5', '^2']) {
      const before = await page.textContent('[data-testid=log-count]')
      const t0 = process.hrtime.bigint()
      await page.getByLabel('Search the log (regular expression)').fill(pattern)
      await page.waitForFunction((b) => document.querySelector('[data-testid=log-count]')?.textContent !== b, before, { polling: 'raf' })
      filters.push(ms(t0))
    }
    out['logFilterMedianMs'] = median(filters)
    out['dockerLogsGrepMs'] = median(Array.from({ length: 3 }, () => timed(() => spawnSync('sh', ['-c', `${docker} -H ${e.host} logs talker | grep -c '^99' >/dev/null`]))))
    // The tabs share the page's session; the page itself goes quiet (the 1 M lines would weigh on the browser).
    await page.goto(`${dash.origin}/#/system`)

    process.stderr.write(`${e.name}: ${streamed} containers streaming stats to 3 tabs…\n`)
    const busy: string[] = []
    for (let i = 0; i < streamed; i++) {
      const { Id } = await client.containers.create({ Image: 'busybox:latest', Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } }, { name: `streamed-${i}` })
      await client.containers.start(Id)
      busy.push(Id)
    }
    const tabs = await Promise.all([0, 1, 2].map(() => context.newPage()))
    for (const tab of tabs) {
      await tab.goto(`${dash.origin}/#/system`)
      const opened = await tab.evaluate(
        (ids) =>
          Promise.all(
            ids.map(
              (id) =>
                new Promise<boolean>((resolve) => {
                  const ws = new WebSocket(`ws://${location.host}/ws/stats?id=${id}`)
                  ws.onmessage = () => resolve(true)
                  ws.onclose = () => resolve(false)
                }),
            ),
          ),
        busy,
      )
      if (!opened.every(Boolean)) throw new Error('a stats channel did not stream')
    }
    await new Promise((r) => setTimeout(r, 5000))
    const cpu0 = cpuSeconds(dash.proc.pid!)
    let rss = 0
    for (let s = 0; s < 20; s++) {
      await new Promise((r) => setTimeout(r, 1000))
      rss = Math.max(rss, treeRssKb(dash.proc.pid!))
    }
    out['dashboardStatsCpuPercent'] = ((cpuSeconds(dash.proc.pid!) - cpu0) / 20) * 100
    out['dashboardStatsRssMiB'] = rss / 1024
    for (const tab of tabs) await tab.close()
    const stats = spawn(docker, ['-H', e.host, 'stats', ...busy], { stdio: ['ignore', 'ignore', 'ignore'] })
    await new Promise((r) => setTimeout(r, 5000))
    const dcpu0 = cpuSeconds(stats.pid!)
    let drss = 0
    for (let s = 0; s < 20; s++) {
      await new Promise((r) => setTimeout(r, 1000))
      drss = Math.max(drss, treeRssKb(stats.pid!))
    }
    out['dockerStatsCpuPercent'] = ((cpuSeconds(stats.pid!) - dcpu0) / 20) * 100
    out['dockerStatsRssMiB'] = drss / 1024
    stats.kill()

    process.stderr.write(`${e.name}: a ${imageMb} MB image…\n`)
    await bigImage(e.host, imageMb)
    const id = (await client.images.inspect('big:bench')).Id
    const session2 = (await context.cookies()).find((c) => c.name === 'cais_dashboard')!
    const get = (path: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const u = new URL(dash!.origin)
        const t0 = process.hrtime.bigint()
        request({ host: u.hostname, port: u.port, path, headers: { Cookie: `${session2.name}=${session2.value}` } }, (res) => {
          res.resume()
          res.on('end', () => (res.statusCode === 200 ? resolve(ms(t0)) : reject(new Error(`${path}: ${res.statusCode}`))))
        })
          .on('error', reject)
          .end()
      })
    let peak = 0
    const watch = setInterval(() => (peak = Math.max(peak, treeRssKb(dash!.proc.pid!))), 100)
    out['layerIndexColdMs'] = await get(`/api/images/${encodeURIComponent(id)}/layers`)
    clearInterval(watch)
    out['layerIndexPeakRssMiB'] = peak / 1024
    out['layerIndexCachedMs'] = await get(`/api/images/${encodeURIComponent(id)}/layers`)
    out['dockerSaveMs'] = timed(() => spawnSync('sh', ['-c', `${docker} -H ${e.host} save big:bench > /dev/null`]))
  } finally {
    await browser.close()
    dash?.proc.kill('SIGTERM')
    client.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return out
}

async function main(): Promise<void> {
  const imageTar = busyboxImage()
  const results: Record<string, Record<string, number>> = {}
  for (const start of [() => startCaisd(imageTar), () => startDockerd(imageTar)]) {
    const e = await start()
    if (!e) continue
    try {
      results[e.name] = await bench(e)
    } finally {
      stop(e)
    }
  }
  mkdirSync(join(repo, 'bench/results'), { recursive: true })
  writeFileSync(join(repo, 'bench/results/dashboard.json'), JSON.stringify({ date: new Date().toISOString(), containers, streamed, logLines, imageMb, results }, null, 2))
  const names = Object.keys(results)
  const keys = Object.keys(results[names[0]!] ?? {})
  console.log(`${'figure'.padEnd(28)}${names.map((n) => n.padStart(12)).join('')}`)
  for (const k of keys) console.log(`${k.padEnd(28)}${names.map((n) => (results[n]![k] ?? NaN).toFixed(1).padStart(12)).join('')}`)
}

await main()
