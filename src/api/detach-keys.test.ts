import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DetachDetector, parseDetachKeys } from './detach-keys.ts'

test('detach keys parse as Docker spells them', () => {
  assert.deepEqual(parseDetachKeys(null), [16, 17])
  assert.deepEqual(parseDetachKeys('ctrl-a,x'), [1, 120])
  assert.deepEqual(parseDetachKeys('ctrl-@,ctrl-[,ctrl-_'), [0, 27, 31])
  assert.throws(() => parseDetachKeys('ctrl-ab'), /Invalid detach keys \(ctrl-ab\) provided/)
})

test('the detach sequence is held back, detected across chunks, and passed on when it breaks off', () => {
  const d = new DetachDetector([16, 17])
  assert.deepEqual(d.feed(Buffer.from('ab\x10')), { pass: Buffer.from('ab'), detached: false })
  assert.deepEqual(d.feed(Buffer.from('c')), { pass: Buffer.from('\x10c'), detached: false })
  assert.deepEqual(d.feed(Buffer.from('\x10\x10')), { pass: Buffer.from('\x10'), detached: false })
  assert.deepEqual(d.feed(Buffer.from('\x11rest')), { pass: Buffer.from(''), detached: true })
})
