// The crash torture: workers drive a real caisd through the API while it is killed with SIGKILL at seeded random
// moments and restarted; after each restart the invariants are checked. The seed fixes every choice the run makes
// (operations, objects, kill delays), so a failing run can be replayed; the daemon's own timing still varies.
import { EngineClient } from '../../src/client/engine-client.ts'
import { BUSYBOX, type Scope, type TestDaemon, startDaemon } from '../helpers/daemon.ts'
import { startRegistry } from '../helpers/registry.ts'
import { checkHost, checkModel, checkNoTempFiles, checkResponsive, checkStoreClean } from './invariants.ts'
import { Worker, seededRandom } from './workload.ts'

export interface TortureOptions {
  seed: number
  kills: number
  workers: number
  /** The longest a round runs before its kill (the delay is drawn between 30 ms and this). */
  maxRoundMs: number
  /** Passed to caisd as CAIS_FAILPOINT: a deliberate bug the run must catch. */
  failpoint?: string
  /** Goes on after a round with violations (by default the run stops at the first). */
  keepGoing?: boolean
  log(line: string): void
}

export interface TortureReport {
  seed: number
  kills: number
  /** Each with the round (kill number) it was found after. */
  violations: string[]
  operations: Record<string, number>
  /** Start of each restarted caisd until it answered, ms. */
  restartMs: number[]
  checks: number
}

export async function runTorture(scope: Scope, o: TortureOptions): Promise<TortureReport> {
  const random = seededRandom(o.seed)
  const d = await startDaemon(scope, { logLevel: false, ...(o.failpoint ? { env: { CAIS_FAILPOINT: o.failpoint } } : {}) })
  const registry = await startRegistry(scope)
  const loadTars = await prepare(d, registry.address, o.workers)

  let client = new EngineClient({ host: d.host })
  scope.after(() => client.close())
  let stopping = false
  let round = 0
  const report: TortureReport = { seed: o.seed, kills: 0, violations: [], operations: {}, restartMs: [], checks: 0 }
  const violation = (what: string): void => {
    report.violations.push(`after kill ${round}: ${what}`)
    o.log(`VIOLATION after kill ${round}: ${what}`)
  }
  const ctx = { client: () => client, stopping: () => stopping, registry: registry.address, loadTars, violation }
  const workers = Array.from({ length: o.workers }, (_, n) => new Worker(n, seededRandom(o.seed * 31 + n + 1), ctx))

  for (round = 1; round <= o.kills; round++) {
    stopping = false
    const running = workers.map((w) => w.run())
    await new Promise((r) => setTimeout(r, 30 + random() * (o.maxRoundMs - 30)))
    stopping = true
    await d.kill9()
    await Promise.all(running)
    report.kills++
    client.close()

    const t0 = performance.now()
    await d.start()
    report.restartMs.push(performance.now() - t0)
    client = new EngineClient({ host: d.host })

    const before = report.violations.length
    try {
      for (const v of await checkResponsive(client)) violation(v)
      for (const v of await checkModel(client, workers)) violation(v)
      for (const v of checkNoTempFiles(d.root)) violation(v)
      for (const v of await checkStoreClean(client)) violation(v)
      // A container killed as the daemon died may still be on its way out: its state settles within moments.
      let host: string[] = []
      for (let attempt = 0; attempt < 6; attempt++) {
        host = await checkHost(client, { root: d.root, execRoot: d.execRoot, chainPrefix: d.chainPrefix })
        if (host.length === 0) break
        await new Promise((r) => setTimeout(r, 500))
      }
      for (const v of host) violation(v)
    } catch (err) {
      violation(`a check could not run: ${(err as Error).message}`)
    }
    report.checks++
    if (round % 10 === 0 || report.violations.length > before) o.log(`kill ${round}/${o.kills}: ${report.violations.length} violations so far, restart ${report.restartMs.at(-1)!.toFixed(0)} ms`)
    if (report.violations.length > before && !o.keepGoing) break
  }
  for (const w of workers) for (const [op, n] of Object.entries(w.counts)) report.operations[op] = (report.operations[op] ?? 0) + n
  client.close()
  return report
}

/**
 * Per worker: an image in the registry to pull (`<registry>/torture/w<N>-base:1`) and a saved image of its own to
 * load (`torture/w<N>-load:1`, a layer of its own on busybox), neither left in the daemon.
 */
async function prepare(d: TestDaemon, registry: string, workers: number): Promise<Buffer[]> {
  const tars: Buffer[] = []
  const ok = async (...args: string[]): Promise<string> => {
    const r = await d.cli(...args)
    if (r.code !== 0) throw new Error(`cais ${args.join(' ')}: ${r.stderr}`)
    return r.stdout.trim()
  }
  for (let n = 0; n < workers; n++) {
    const base = `${registry}/torture/w${n}-base:1`
    await ok('tag', BUSYBOX, base)
    await ok('push', base)
    await ok('rmi', base)
    const load = `torture/w${n}-load:1`
    await ok('run', '--name', `prepare-${n}`, '--network', 'none', BUSYBOX, 'sh', '-c', `echo worker ${n} > /w`)
    await ok('commit', `prepare-${n}`, load)
    await ok('rm', `prepare-${n}`)
    const chunks: Buffer[] = []
    for await (const c of await d.client.images.save([load])) chunks.push(c as Buffer)
    tars.push(Buffer.concat(chunks))
    await ok('rmi', load)
  }
  return tars
}
