import assert from 'node:assert/strict'
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { type Alert, AlertEngine, parseRules } from './alerts.ts'
import { HistoryStore, type Sample } from './history.ts'

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cais-dashboard-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const sample = (id: string, cpuPercent: number, memoryUsage = 100, memoryLimit = 1000): Sample => ({
  id,
  name: `c-${id}`,
  cpuPercent,
  memoryUsage,
  memoryLimit,
  networkRx: 0,
  networkTx: 0,
})

const die = (id: string, exitCode: string, timeNano = Date.now() * 1e6): Parameters<AlertEngine['onEvent']>[0] => ({
  Type: 'container',
  Action: 'die',
  Actor: { ID: id, Attributes: { name: `c-${id}`, exitCode } },
  timeNano,
})

test('alerts: a non-zero exit, an OOM kill, an unhealthy turn and too many restarts fire; a zero exit does not; the history survives', async (t) => {
  const dir = await tempDir(t)
  const engine = new AlertEngine({ rules: parseRules([{ kind: 'exit-nonzero' }, { kind: 'oom' }, { kind: 'unhealthy' }, { kind: 'restarts', count: 2, minutes: 1 }]), dir })
  const fired: Alert[] = []
  engine.on('alert', (a) => fired.push(a))
  await engine.onEvent(die('a', '0'))
  await engine.onEvent(die('b', '1'))
  await engine.onEvent({ Type: 'container', Action: 'oom', Actor: { ID: 'c', Attributes: { name: 'c-c' } } })
  await engine.onEvent({ Type: 'container', Action: 'health_status: unhealthy', Actor: { ID: 'd', Attributes: { name: 'c-d' } } })
  for (let i = 0; i < 4; i++) await engine.onEvent({ Type: 'container', Action: 'start', Actor: { ID: 'e', Attributes: { name: 'c-e' } } })
  await engine.onEvent({ Type: 'image', Action: 'die', Actor: { ID: 'x' } })
  assert.deepEqual(
    fired.map((a) => a.message),
    ['c-b exited with code 1', 'c-c was killed: out of memory', 'c-d is unhealthy', 'c-e restarted 3 times in 1 min'],
  )
  await appendFile(join(dir, 'alerts.jsonl'), '{"torn')
  const again = new AlertEngine({ rules: [], dir })
  assert.deepEqual((await again.history()).map((a) => a.kind), ['exit-nonzero', 'oom', 'unhealthy', 'restarts'])
})

test('alerts: CPU or memory above the threshold fires once it has lasted, once, and again only after it dropped', async (t) => {
  const engine = new AlertEngine({ rules: [{ kind: 'cpu', percent: 50, minutes: 1 }, { kind: 'memory', percent: 80, minutes: 1 }], dir: await tempDir(t) })
  const fired: string[] = []
  engine.on('alert', (a) => fired.push(`${a.kind} ${a.container.id}`))
  const t0 = 1_000_000
  await engine.onSamples(t0, [sample('a', 90), sample('b', 10, 900)])
  await engine.onSamples(t0 + 30_000, [sample('a', 95), sample('b', 10, 900)])
  assert.deepEqual(fired, [])
  await engine.onSamples(t0 + 60_000, [sample('a', 95), sample('b', 10, 900)])
  await engine.onSamples(t0 + 90_000, [sample('a', 95), sample('b', 10, 900)])
  assert.deepEqual(fired, ['cpu a', 'memory b'])
  await engine.onSamples(t0 + 100_000, [sample('a', 5)])
  await engine.onSamples(t0 + 110_000, [sample('a', 99)])
  await engine.onSamples(t0 + 170_000, [sample('a', 99)])
  assert.deepEqual(fired, ['cpu a', 'memory b', 'cpu a'])
})

test('alert rules from a file: mistakes are named', () => {
  assert.throws(() => parseRules({}), /must be a JSON list/)
  assert.throws(() => parseRules([{ kind: 'disk' }]), /rule 1: unknown kind "disk"/)
  assert.throws(() => parseRules([{ kind: 'cpu', percent: -1, minutes: 1 }]), /rule 1 \(cpu\): percent must be a positive number/)
})

test('history: ticks come back from the fine ring; the coarse ring averages per slot; torn lines are skipped; old and oversized files go', async (t) => {
  const dir = await tempDir(t)
  const store = new HistoryStore(dir, { fineMs: 1000, coarseMs: 60_000 })
  const now = Date.now()
  const base = Math.floor(now / 60_000) * 60_000 - 120_000
  await store.append({ t: base + 1000, samples: [sample('a', 10, 100)] })
  await store.append({ t: base + 2000, samples: [sample('a', 30, 300)] })
  await store.append({ t: base + 61_000, samples: [sample('a', 50, 500)] })
  const fine = await store.query(base, now)
  assert.equal(fine.resolutionMs, 1000)
  assert.deepEqual(fine.ticks.map((x) => x.samples[0]!.cpuPercent), [10, 30, 50])
  const fineFile = (await readdir(dir)).find((f) => f.startsWith('fine-'))!
  await appendFile(join(dir, fineFile), '{"t":')
  assert.equal((await store.query(base, now)).ticks.length, 3)

  await store.flush()
  const coarse = await store.query(now - 48 * 3600_000, now)
  assert.equal(coarse.resolutionMs, 60_000)
  assert.deepEqual(coarse.ticks.map((x) => [x.t - base, x.samples[0]!.cpuPercent, x.samples[0]!.memoryUsage]), [[0, 20, 200], [60_000, 50, 500]])

  // A day later the fine files are past their age; a cap of one byte leaves nothing.
  await store.prune(now + 26 * 3600_000)
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('fine-')), [])
  await new HistoryStore(dir, { maxBytes: 1 }).prune()
  assert.deepEqual(await readdir(dir), [])
})
