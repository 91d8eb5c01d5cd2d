import assert from 'node:assert/strict'
import { test } from 'node:test'
import { EventBus } from './bus.ts'

test('event times only go forward, also for events in the same millisecond', () => {
  const bus = new EventBus(100_000)
  for (let i = 0; i < 20_000; i++) bus.emit('container', i % 2 ? 'die' : 'oom', 'x')
  const { past } = bus.subscribe(() => {})
  for (let i = 1; i < past.length; i++) assert.ok(past[i]!.timeNano > past[i - 1]!.timeNano, `event ${i} after event ${i - 1}`)
  assert.equal(bus.emitted.get('container die'), 10_000)
})
