import { isIPv4 } from 'node:net'
import { invalid } from '../lib/errors.ts'

/** An IPv4 subnet: `base` is the network address as an unsigned 32-bit number. */
export interface Subnet {
  base: number
  prefix: number
}

export function parseIPv4(text: string): number {
  if (!isIPv4(text)) throw invalid(`invalid IP address: ${text}`)
  return text.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** Parses `a.b.c.d/n`; the address is masked down to the network address, as Docker does. */
export function parseSubnet(text: string): Subnet {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text)
  if (!m || Number(m[2]) > 32) throw invalid(`invalid CIDR address: ${text}`)
  const prefix = Number(m[2])
  return { base: (parseIPv4(m[1]!) & mask(prefix)) >>> 0, prefix }
}

export const formatSubnet = (s: Subnet): string => `${formatIPv4(s.base)}/${s.prefix}`

const mask = (prefix: number): number => (prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0)

export const size = (s: Subnet): number => 2 ** (32 - s.prefix)

export function contains(s: Subnet, ip: number): boolean {
  return ((ip & mask(s.prefix)) >>> 0) === s.base
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return contains(a, b.base) || contains(b, a.base)
}

/** Splits a pool (`10.90.0.0/16`, size 24) into its subnets, in order. */
export function* splitPool(pool: Subnet, prefix: number): Generator<Subnet> {
  if (prefix < pool.prefix) throw invalid(`invalid pool: subnets /${prefix} are larger than the pool ${formatSubnet(pool)}`)
  const step = 2 ** (32 - prefix)
  for (let base = pool.base; base < pool.base + size(pool); base += step) yield { base, prefix }
}
