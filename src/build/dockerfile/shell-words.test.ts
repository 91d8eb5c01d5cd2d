import assert from 'node:assert/strict'
import { test } from 'node:test'
import { expandPairs, expandVariables, expandWord, expandWords } from './shell-words.ts'

const vars: Record<string, string> = { A: 'apple', EMPTY: '', PATHV: '/usr/local/bin/app.tar.gz', SP: 'a b' }
const lookup = (n: string): string | undefined => vars[n]

test('plain, braced and missing variables', () => {
  assert.equal(expandWord('$A-${A}_$NOPE.', lookup), 'apple-apple_.')
  assert.equal(expandWord('cost: $5 and $', lookup), 'cost: $5 and $')
})

test('defaults and alternatives: :- - :+ +', () => {
  assert.equal(expandWord('${NOPE:-x}|${EMPTY:-x}|${A:-x}', lookup), 'x|x|apple')
  assert.equal(expandWord('${NOPE-x}|${EMPTY-x}|${A-x}', lookup), 'x||apple')
  assert.equal(expandWord('${NOPE:+y}|${EMPTY:+y}|${A:+y}', lookup), '||y')
  assert.equal(expandWord('${NOPE+y}|${EMPTY+y}|${A+y}', lookup), '|y|y')
  assert.equal(expandWord('${NOPE:-${A}s}', lookup), 'apples')
})

test('required: :? and ? fail with the message', () => {
  assert.throws(() => expandWord('${NOPE:?must be set}', lookup), /NOPE: must be set/)
  assert.throws(() => expandWord('${EMPTY:?}', lookup), /EMPTY: is not allowed to be unset/)
  assert.equal(expandWord('${EMPTY?}', lookup), '')
})

test('prefix and suffix removal, shortest and longest; pattern replacement', () => {
  assert.equal(expandWord('${PATHV#*/}', lookup), 'usr/local/bin/app.tar.gz')
  assert.equal(expandWord('${PATHV##*/}', lookup), 'app.tar.gz')
  assert.equal(expandWord('${PATHV%.*}', lookup), '/usr/local/bin/app.tar')
  assert.equal(expandWord('${PATHV%%.*}', lookup), '/usr/local/bin/app')
  assert.equal(expandWord('${A/p/P}|${A//p/P}', lookup), 'aPple|aPPle')
})

test('quotes: single keep everything, double expand, escapes take the next character', () => {
  assert.equal(expandWord(`'$A' "$A \\"q\\"" \\$A`, lookup), '$A apple "q" $A')
  assert.equal(expandWord('a`$A', lookup, '`'), 'a$A')
  assert.throws(() => expandWord('"open', lookup), /matching double-quote/)
})

test('words split outside quotes; pairs in both forms', () => {
  assert.deepEqual(expandWords('a "b c" $SP ${NOPE:-two words}', lookup), ['a', 'b c', 'a b', 'two words'])
  assert.deepEqual(expandPairs('K=v Q="x y" E=', lookup, '\\', { valueRequired: true, instruction: 'ENV' }), [['K', 'v'], ['Q', 'x y'], ['E', '']])
  assert.deepEqual(expandPairs('KEY some value $A', lookup, '\\', { valueRequired: true, instruction: 'ENV' }), [['KEY', 'some value apple']])
  assert.deepEqual(expandPairs('N1 N2=d', lookup, '\\', { valueRequired: false, instruction: 'ARG' }), [['N1', undefined], ['N2', 'd']])
})

test('here-document content: variables expanded, quotes left alone', () => {
  assert.equal(expandVariables(`say "$A" and '\${A}', not \\$A\n`, lookup), `say "apple" and 'apple', not $A\n`)
})
