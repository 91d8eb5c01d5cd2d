// Dockerfile builds side by side: caisd and dockerd 20.10's classic builder through the same docker CLI
// (DOCKER_BUILDKIT=0), and Debian's buildah (`bud --layers`) where installed. See bench/README.md.
import { spawnSync } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Engine, busyboxImage, docker, image, median, repo, sh, startCaisd, startDockerd, stop } from './engines.ts'

const runs = Number(process.env['BENCH_RUNS'] ?? 7)
const settleMs = Number(process.env['BENCH_SETTLE_MS'] ?? 1500)

/** Ten steps over a ~20 MB context; the last COPY's source is what the one-late-change rebuild changes. */
function makeContext(): string {
  const dir = mkdtempSync('/tmp/cais-bench-build-')
  mkdirSync(join(dir, 'big'))
  for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'big', `part${i}`), randomFillSync(Buffer.alloc(1024 * 1024)))
  writeFileSync(join(dir, 'small.txt'), 'small\n')
  writeFileSync(join(dir, 'late.txt'), 'late 0\n')
  writeFileSync(
    join(dir, 'Dockerfile'),
    `FROM ${image}
ENV APP=/app
WORKDIR /app
COPY big/ /app/big/
RUN cat big/part0 big/part1 > joined && ls big | wc -l > count
COPY small.txt .
RUN echo step > step.txt
LABEL bench=build
COPY late.txt .
RUN cat late.txt > late.out
`,
  )
  return dir
}

interface Builder {
  name: string
  build(opts: { noCache: boolean }): number
  close(): void
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`)
  return ms
}

function engineBuilder(e: Engine, ctx: string): Builder {
  return {
    name: e.name,
    build: ({ noCache }) =>
      timed(docker, ['build', '-q', '--network', 'none', ...(noCache ? ['--no-cache'] : []), '-t', 'bench-build', ctx], { DOCKER_HOST: e.host, DOCKER_BUILDKIT: '0' }),
    close: () => {},
  }
}

/** buildah on its own storage root, the base image copied in from caisd with skopeo. */
function buildahBuilder(caisd: Engine, ctx: string): Builder | undefined {
  if (spawnSync('buildah', ['--version']).status !== 0) return undefined
  const dir = mkdtempSync('/tmp/cais-bench-buildah-')
  const storage = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'overlay']
  const archive = join(dir, 'busybox.tar')
  if (sh(caisd.host, ['save', '-o', archive, image]).code !== 0) throw new Error('save from caisd failed')
  const dest = `containers-storage:[overlay@${join(dir, 'root')}+${join(dir, 'run')}]docker.io/library/${image}`
  const copied = spawnSync('skopeo', ['copy', `docker-archive:${archive}`, dest], { encoding: 'utf8' })
  if (copied.status !== 0) throw new Error(`skopeo copy into buildah's storage failed: ${copied.stderr}`)
  return {
    name: 'buildah',
    build: ({ noCache }) =>
      timed('buildah', [...storage, 'bud', '--layers', '--isolation', 'chroot', '-q', ...(noCache ? ['--no-cache'] : []), '-t', 'bench-build', ctx], {}),
    close: () => {
      spawnSync('buildah', [...storage, 'rm', '--all'], { stdio: 'ignore' })
      spawnSync('umount', ['-R', join(dir, 'root', 'overlay')], { stdio: 'ignore' })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function main(): Promise<void> {
  const ctx = makeContext()
  const imageTar = busyboxImage()
  const engines: Engine[] = []
  const builders: Builder[] = []
  try {
    const caisd = await startCaisd(imageTar)
    engines.push(caisd)
    const dockerd = await startDockerd(imageTar)
    if (dockerd) engines.push(dockerd)
    else console.log('dockerd is not installed (apt-get install docker.io): measuring without it')
    builders.push(...engines.map((e) => engineBuilder(e, ctx)))
    const buildah = buildahBuilder(caisd, ctx)
    if (buildah) builders.push(buildah)
    else console.log("buildah is not installed (apt-get install buildah): measuring without it")

    const samples: Record<string, Record<string, number[]>> = { cold: {}, cached: {}, 'one late change': {} }
    for (const b of builders) for (const w of Object.keys(samples)) samples[w]![b.name] = []
    for (const b of builders) b.build({ noCache: true }) // warm-up, and the image the cached runs start from
    let late = 0
    // Each build is timed on a settled engine: what the one before left to do in the background (removing its
    // step containers, the kernel writing back its layers) would otherwise be charged to the next.
    const settled = (fn: () => number): number => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, settleMs)
      return fn()
    }
    for (let i = 0; i < runs; i++) {
      for (const b of builders) {
        samples['cold']![b.name]!.push(settled(() => b.build({ noCache: true })))
        samples['cached']![b.name]!.push(settled(() => b.build({ noCache: false })))
        writeFileSync(join(ctx, 'late.txt'), `late ${++late}\n`)
        samples['one late change']![b.name]!.push(settled(() => b.build({ noCache: false })))
      }
    }
    const results = Object.fromEntries(Object.entries(samples).map(([w, byBuilder]) => [w, Object.fromEntries(Object.entries(byBuilder).map(([n, xs]) => [n, median(xs)]))]))
    const names = builders.map((b) => b.name)
    const header = ['build of a 10-step Dockerfile, 20 MB context (median ms)', ...names, ...(names.includes('dockerd') ? ['caisd/dockerd'] : []), ...(names.includes('buildah') ? ['caisd/buildah'] : [])]
    const rows = Object.entries(results).map(([w, r]) => [
      w,
      ...names.map((n) => r[n]!.toFixed(1)),
      ...(names.includes('dockerd') ? [`${(r['caisd']! / r['dockerd']!).toFixed(2)}×`] : []),
      ...(names.includes('buildah') ? [`${(r['caisd']! / r['buildah']!).toFixed(2)}×`] : []),
    ])
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('   '))
    mkdirSync(join(repo, 'bench/results'), { recursive: true })
    writeFileSync(join(repo, 'bench/results/build.json'), JSON.stringify({ date: new Date().toISOString(), runs, results }, null, 2))
  } finally {
    for (const b of builders) b.close()
    for (const e of engines) stop(e)
    rmSync(ctx, { recursive: true, force: true })
  }
}

await main()
