import assert from 'node:assert/strict'
import { test } from 'node:test'
import { humanDuration, parseGoDuration, parseTimestamp, rfc3339Nano } from './time.ts'

test('human durations read as Docker prints them', () => {
  assert.equal(humanDuration(500), 'Less than a second')
  assert.equal(humanDuration(1000), '1 second')
  assert.equal(humanDuration(45_000), '45 seconds')
  assert.equal(humanDuration(70_000), 'About a minute')
  assert.equal(humanDuration(5 * 60_000), '5 minutes')
  assert.equal(humanDuration(3_600_000), 'About an hour')
  assert.equal(humanDuration(5 * 3_600_000), '5 hours')
  assert.equal(humanDuration(3 * 86_400_000), '3 days')
})

test('timestamps and durations', () => {
  assert.equal(parseGoDuration('1h30m'), 5_400_000)
  assert.equal(parseGoDuration('250ms'), 250)
  assert.equal(parseGoDuration('x'), undefined)
  assert.equal(parseTimestamp('1700000000.5'), 1_700_000_000_500)
  assert.equal(parseTimestamp('10s', 100_000), 90_000)
  assert.equal(rfc3339Nano(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), '2024-01-02T03:04:05.678Z')
})
