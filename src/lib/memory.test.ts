import assert from 'node:assert/strict'
import { test } from 'node:test'
import { collectAfterBurst, isBurstRoute } from './memory.ts'

test('a burst is followed by one full collection, a moment after the last of several', async () => {
  const g = globalThis as { gc?: () => void }
  const saved = g.gc
  let collections = 0
  g.gc = () => void collections++
  try {
    collectAfterBurst(30)
    collectAfterBurst(30)
    collectAfterBurst(30)
    assert.equal(collections, 0)
    await new Promise((r) => setTimeout(r, 80))
    assert.equal(collections, 1)
  } finally {
    g.gc = saved
  }
  assert.ok(isBurstRoute('/images/{name*}/push'))
  assert.ok(isBurstRoute('/images/create'))
  assert.ok(!isBurstRoute('/containers/json'))
})
