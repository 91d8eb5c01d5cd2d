import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'

/**
 * The test command's host-state check, run inside a network namespace made for the test: a new namespace has
 * no netfilter table loaded, as a fresh machine before its first ip6tables call.
 */
test('the host-state check ignores tables loaded empty by a first run, and sees any rule, chain or policy', (t) => {
  const ns = `cais-hoststate-${randomBytes(3).toString('hex')}`
  execFileSync('ip', ['netns', 'add', ns])
  t.after(() => execFileSync('ip', ['netns', 'delete', ns]))
  const inNs = (...args: string[]): string => execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' })
  // Only the rules: links and namespaces of other tests running meanwhile would come and go.
  const rules = (): string => inNs('bash', 'scripts/host-state.sh').split('\n').filter((l) => /^ipv[46] /.test(l)).join('\n')

  const before = rules()
  assert.equal(inNs('ip6tables-save').trim(), '', 'a new namespace has no ip6tables table loaded')
  // What a test daemon does: its chains are made, then removed; the tables stay, empty.
  for (const cmd of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat']) {
      inNs(cmd, '-t', table, '-N', 'CAIS-T')
      inNs(cmd, '-t', table, '-X', 'CAIS-T')
    }
  }
  assert.match(inNs('ip6tables-save'), /\*nat/, 'the tables stay loaded')
  assert.equal(rules(), before)

  inNs('ip6tables', '-t', 'nat', '-N', 'CAIS-LEFT')
  assert.notEqual(rules(), before, 'a chain left behind shows')
  inNs('ip6tables', '-t', 'nat', '-X', 'CAIS-LEFT')
  inNs('iptables', '-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT')
  assert.notEqual(rules(), before, 'a rule left behind shows')
  inNs('iptables', '-D', 'INPUT', '-i', 'lo', '-j', 'ACCEPT')
  inNs('ip6tables', '-P', 'FORWARD', 'DROP')
  assert.notEqual(rules(), before, 'a policy changed shows')
  inNs('ip6tables', '-P', 'FORWARD', 'ACCEPT')
  assert.equal(rules(), before)
})
