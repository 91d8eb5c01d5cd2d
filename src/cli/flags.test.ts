import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseFlags } from './flags.ts'

const specs = [
  { name: 'detach', short: 'd', type: 'bool' as const },
  { name: 'env', short: 'e', type: 'list' as const },
  { name: 'name', type: 'string' as const },
]

test('flags parse as pflag: combined shorts, =values, lists, and the command after the image', () => {
  const p = parseFlags(['-de', 'A=1', '--env=B=2', '--name', 'x', 'busybox', 'sh', '-c', 'echo -d'], specs, { interspersed: false })
  assert.equal(p.flags.get('detach'), true)
  assert.deepEqual(p.flags.get('env'), ['A=1', 'B=2'])
  assert.equal(p.flags.get('name'), 'x')
  assert.deepEqual(p.args, ['busybox', 'sh', '-c', 'echo -d'])
  assert.throws(() => parseFlags(['--nope'], specs), /unknown flag: --nope/)
  assert.throws(() => parseFlags(['--name'], specs), /flag needs an argument/)
})
