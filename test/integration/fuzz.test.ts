// A short slice of the API fuzz run (scripts/fuzz-api.ts does the full one): random and mutated requests at every
// route; the daemon must answer every request that is not a stream, never with a 5xx, let no archive write
// outside its root, and still answer /_ping and load its store after a restart.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fuzzDaemon } from '../fuzz/api-fuzz.ts'
import { startDaemon } from '../helpers/daemon.ts'

test('fuzz slice: 1,500 random requests at every route; no crash, hang, 5xx or escape; the store loads after a restart', async (t) => {
  const d = await startDaemon(t)
  const created = await d.cli('create', '--name', 'fuzz-target', 'busybox', 'sleep', '300')
  assert.equal(created.code, 0, created.stderr)
  const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 1_000_000)
  const canaries = [`/tmp/cais-fuzz-escape-${process.pid}`, `${d.dir}/cais-fuzz-escape-${process.pid}`]
  const report = await fuzzDaemon({ socket: d.socket, requests: Number(process.env['FUZZ_REQUESTS'] ?? 1500), seed, canaries }, { container: 'fuzz-target', image: 'busybox' })
  const errors = d.logs().split('\n').filter((l) => l.includes('"level":"error"') && !/aborted|Premature close/.test(l)).slice(0, 5)
  const context = `seed ${seed}: ${JSON.stringify({ ...report, serverErrors: report.serverErrors.slice(0, 10), hung: report.hung.slice(0, 10) })}\n${errors.join('\n')}`
  assert.deepEqual(report.escapes, [], context)
  assert.deepEqual(report.hung, [], context)
  assert.deepEqual(report.serverErrors, [], context)
  assert.equal((await d.cli('version', '--format', '{{.Server.Version}}')).code, 0, context)
  const before = (await d.cli('ps', '-aq', '--no-trunc')).stdout.split('\n').filter(Boolean).sort()
  await d.stop()
  await d.start()
  assert.deepEqual((await d.cli('ps', '-aq', '--no-trunc')).stdout.split('\n').filter(Boolean).sort(), before, context)
})
