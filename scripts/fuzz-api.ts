// The full API fuzz run: FUZZ_REQUESTS (100,000) random and mutated requests, seeded by FUZZ_SEED, at every route of
// a caisd on a temp root of its own; then /_ping within a second, and the store loaded again after a restart.
//
//   node scripts/fuzz-api.ts            (bash scripts/setup.sh first; as root)
//
// Prints what it sent and found; exits 1 on a crash, a hang, a 5xx, a write outside the root, or a store that does
// not load. test/integration/fuzz.test.ts runs a short slice of it in the test command.
import { existsSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { busyboxImage, sh, startCaisd, stop, stopDaemon } from '../bench/engines.ts'
import { fuzzDaemon } from '../test/fuzz/api-fuzz.ts'

const requests = Number(process.env['FUZZ_REQUESTS'] ?? 100_000)
const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 1_000_000)

const say = (line: string): void => void process.stdout.write(`${line}\n`)

const ping = (socketPath: string): Promise<number> =>
  new Promise((resolve) => {
    const started = Date.now()
    const req = request({ socketPath, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200 ? Date.now() - started : -1)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(-1))
    req.end()
  })

async function main(): Promise<number> {
  let engine = await startCaisd(busyboxImage())
  const socket = engine.host.slice('unix://'.length)
  const canaries = [`/tmp/cais-fuzz-escape-${process.pid}`, `${engine.dir}/cais-fuzz-escape-${process.pid}`]
  let failed = false
  try {
    if (sh(engine.host, ['create', '--name', 'fuzz-target', 'busybox', 'sleep', '300']).code !== 0) throw new Error('could not create the target container')
    say(`fuzzing ${engine.host} with ${requests} requests, seed ${seed}`)
    const started = Date.now()
    const report = await fuzzDaemon({ socket, requests, seed, canaries, progress: (n) => n % 10_000 === 0 && say(`  ${n} sent`) }, { container: 'fuzz-target', image: 'busybox' })
    say(`sent ${report.sent} requests to ${report.routes} routes in ${((Date.now() - started) / 1000).toFixed(0)} s; answers by status: ${JSON.stringify(report.byStatus)}`)
    for (const [what, list] of [['hung', report.hung], ['5xx', report.serverErrors], ['escaped', report.escapes]] as const) {
      say(`${what}: ${list.length}${list.length > 0 ? `\n  ${list.slice(0, 20).join('\n  ')}` : ''}`)
      if (list.length > 0) failed = true
    }
    const ms = await ping(socket)
    say(ms >= 0 ? `/_ping answered in ${ms} ms` : '/_ping did not answer within a second')
    if (ms < 0) failed = true
    const before = sh(engine.host, ['ps', '-aq', '--no-trunc']).out
    stopDaemon(engine)
    engine = await startCaisd(undefined, engine.dir)
    const after = sh(engine.host, ['ps', '-aq', '--no-trunc']).out
    const loaded = before.split('\n').sort().join() === after.split('\n').sort().join()
    say(loaded ? 'the store loaded again after a restart, every container in it' : `the store changed across a restart:\n${before}\n---\n${after}`)
    if (!loaded) failed = true
  } finally {
    stop(engine)
    for (const c of canaries) if (existsSync(c)) rmSync(c, { recursive: true, force: true })
  }
  return failed ? 1 : 0
}

process.exit(await main())
