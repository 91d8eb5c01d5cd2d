import assert from 'node:assert/strict'
import { test } from 'node:test'
import { contains6, formatIPv6, overlaps6, parseIPv6, parseSubnet6 } from './ipv6.ts'

test('IPv6 addresses parse and print in the canonical form', () => {
  for (const [input, canonical] of [
    ['fd00::1', 'fd00::1'],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
  ]) {
    assert.equal(formatIPv6(parseIPv6(input!)), canonical, input)
  }
  assert.throws(() => parseIPv6('10.0.0.1'), /invalid IPv6 address/)
  assert.throws(() => parseIPv6('fd00:::1'), /invalid IPv6 address/)
})

test('IPv6 subnets mask, contain and overlap', () => {
  const s = parseSubnet6('fd12:3456:789a:1::5/64')
  assert.equal(formatIPv6(s.base), 'fd12:3456:789a:1::')
  assert.ok(contains6(s, parseIPv6('fd12:3456:789a:1::ffff')))
  assert.equal(contains6(s, parseIPv6('fd12:3456:789a:2::1')), false)
  assert.ok(overlaps6(s, parseSubnet6('fd12:3456:789a::/48')))
  assert.equal(overlaps6(s, parseSubnet6('fd12:3456:789a:2::/64')), false)
  assert.throws(() => parseSubnet6('fd00::/129'), /invalid CIDR address/)
})
