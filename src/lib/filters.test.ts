import assert from 'node:assert/strict'
import { test } from 'node:test'
import { matchLabels, parseFilters } from './filters.ts'

test('filters accept the map-of-sets and map-of-lists shapes', () => {
  assert.deepEqual(parseFilters('{"status":{"running":true,"exited":false}}', ['status']).get('status'), ['running'])
  assert.deepEqual(parseFilters('{"label":["a=b","c"]}', ['label']).get('label'), ['a=b', 'c'])
  assert.equal(parseFilters(undefined, []).size, 0)
  assert.throws(() => parseFilters('{"nope":["x"]}', ['status']), /invalid filter 'nope'/)
  assert.throws(() => parseFilters('not json', ['status']), /invalid filter/)
})

test('label filters match key or key=value, all of them', () => {
  assert.equal(matchLabels(['a', 'b=2'], { a: '1', b: '2' }), true)
  assert.equal(matchLabels(['b=3'], { b: '2' }), false)
  assert.equal(matchLabels(undefined, {}), true)
})
