import assert from 'node:assert/strict'
import { test } from 'node:test'
import { collectWhenIdle, idleAfterMs } from './memory.ts'

test('one full collection once the daemon is idle, a moment after the last of several requests; sooner after a burst of large buffers', async () => {
  const g = globalThis as { gc?: () => void }
  const saved = g.gc
  let collections = 0
  g.gc = () => void collections++
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
