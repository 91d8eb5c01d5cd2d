// The crash torture, run by hand: `node scripts/torture.ts [--seed N] [--kills N] [--workers N] [--max-round-ms N]
// [--failpoint NAME] [--keep-going]`. Prints every violation and a summary; exits 1 when any invariant broke.
import { parseArgs } from 'node:util'
import { runTorture } from '../test/torture/run.ts'

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    kills: { type: 'string', default: '500' },
    workers: { type: 'string', default: '3' },
    'max-round-ms': { type: 'string', default: '1500' },
    failpoint: { type: 'string' },
    'keep-going': { type: 'boolean', default: false },
  },
})
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31)
const cleanups: Array<() => unknown> = []
const scope = { name: `torture-${seed}`, after: (fn: () => unknown) => void cleanups.unshift(fn) }
const cleanup = async (): Promise<void> => {
  for (const fn of cleanups.splice(0)) await fn()
}
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)))

const log = (line: string): void => void process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`)
log(`torture: seed ${seed} (replay with --seed ${seed})`)
const t0 = Date.now()
let status = 0
try {
  const r = await runTorture(scope, {
    seed,
    kills: Number(values.kills),
    workers: Number(values.workers),
    maxRoundMs: Number(values['max-round-ms']),
    keepGoing: values['keep-going'],
    log,
    ...(values.failpoint ? { failpoint: values.failpoint } : {}),
  })
  const restarts = [...r.restartMs].sort((a, b) => a - b)
  const ops = Object.entries(r.operations).sort(([, a], [, b]) => b - a).map(([op, n]) => `${op} ${n}`).join(', ')
  log(`seed ${r.seed}: ${r.kills} kills survived${r.violations.length ? ' with violations' : ''}, ${r.checks} checks, ${Math.round((Date.now() - t0) / 1000)} s`)
  log(`operations: ${ops}`)
  if (restarts.length) log(`restart to first answer: median ${restarts[restarts.length >> 1]!.toFixed(0)} ms, max ${restarts.at(-1)!.toFixed(0)} ms`)
  log(`violations: ${r.violations.length}`)
  for (const v of r.violations) log(`  ${v}`)
  status = r.violations.length ? 1 : 0
} catch (err) {
  log(`torture failed: ${(err as Error).stack}`)
  status = 2
} finally {
  await cleanup()
}
process.exit(status)
