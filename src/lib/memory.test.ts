import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { collectWhenIdle, idleAfterMs, lastResortCollection } from './memory.ts'

test('one full collection once the daemon is idle, a moment after the last of several requests; sooner after a burst of large buffers', async () => {
  const g = globalThis as { gc?: (options: unknown) => void }
  const saved = g.gc
  let collections = 0
  g.gc = (options) => {
    assert.deepEqual(options, lastResortCollection)
    collections++
  }
  try {
    collectWhenIdle(30)
    collectWhenIdle(30)
    collectWhenIdle(30)
    assert.equal(collections, 0)
    await new Promise((r) => setTimeout(r, 80))
    assert.equal(collections, 1)
  } finally {
    g.gc = saved
  }
  assert.equal(idleAfterMs('/images/{name*}/push'), 2000)
  assert.equal(idleAfterMs('/images/create'), 2000)
  assert.equal(idleAfterMs('/containers/json'), 5000)
})

test("the idle collection is V8's memory-reducing one, which gives back what it frees", () => {
  // V8 ignores options it does not know: only its trace tells which collection ran. (The idle timer does not keep
  // a process up: the script waits for it.)
  const script = `import { collectWhenIdle } from ${JSON.stringify(import.meta.resolve('./memory.ts'))}; collectWhenIdle(0); setTimeout(() => {}, 50)`
  const r = spawnSync(process.execPath, ['--expose-gc', '--trace-gc', '--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /Mark-Compact \(reduce\)/, r.stdout)
})
