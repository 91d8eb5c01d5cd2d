import { isIPv6 } from 'node:net'
import { invalid } from '../lib/errors.ts'

/** An IPv6 subnet: `base` is the network address as a 128-bit number. */
export interface Subnet6 {
  base: bigint
  prefix: number
}

const all = (1n << 128n) - 1n

export function parseIPv6(text: string): bigint {
  if (!isIPv6(text) || text.includes('.')) throw invalid(`invalid IPv6 address: ${text}`)
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const h = head ? head.split(':') : []
  const t = tail !== undefined && tail !== '' ? tail.split(':') : []
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  return groups.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n)
}

/** The canonical text form (RFC 5952): lower case, the longest run of zero groups as `::`. */
export function formatIPv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - i * 16)) & 0xffffn))
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

const mask6 = (prefix: number): bigint => (prefix === 0 ? 0n : (all << BigInt(128 - prefix)) & all)

export function parseSubnet6(text: string): Subnet6 {
  const m = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(text)
  if (!m || Number(m[2]) > 128) throw invalid(`invalid CIDR address: ${text}`)
  const prefix = Number(m[2])
  return { base: parseIPv6(m[1]!) & mask6(prefix), prefix }
}

export const formatSubnet6 = (s: Subnet6): string => `${formatIPv6(s.base)}/${s.prefix}`

export const contains6 = (s: Subnet6, ip: bigint): boolean => (ip & mask6(s.prefix)) === s.base

export const overlaps6 = (a: Subnet6, b: Subnet6): boolean => contains6(a, b.base) || contains6(b, a.base)
