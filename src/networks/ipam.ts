import { randomBytes } from 'node:crypto'
import { CaisError, conflict, invalid } from '../lib/errors.ts'
import * as host from './host.ts'
import { type Subnet, contains, formatIPv4, formatSubnet, overlaps, parseIPv4, parseSubnet, size, splitPool } from './ipv4.ts'
import { contains6, formatIPv6, formatSubnet6, overlaps6, parseIPv6, parseSubnet6 } from './ipv6.ts'
import type { NetworkRecord } from './record.ts'

/**
 * IPAM: the address pools of networks and the addresses of their endpoints. Pools never overlap another
 * network's (nor, when picked from the defaults, a route the host already has); endpoint addresses come from the
 * network's range, skipping its network, broadcast and gateway addresses and those already handed out.
 */

/** The IPv6 pool: the one given, or a unique local /64 (fd00::/8 with 40 random bits, as RFC 4193 says). */
export function ipv6Pool(c: { Subnet?: string; Gateway?: string; IPRange?: string } | undefined, networks: Iterable<NetworkRecord>): NonNullable<NetworkRecord['ipam6']> {
  let subnet
  if (c?.Subnet) {
    subnet = parseSubnet6(c.Subnet)
    if (subnet.prefix > 120) throw invalid(`invalid subnet ${c.Subnet}: too small for a network`)
    for (const n of networks) {
      if (n.ipam6 && overlaps6(subnet, parseSubnet6(n.ipam6.subnet))) throw new CaisError('forbidden', 'invalid pool request: Pool overlaps with other one on this address space')
    }
  } else {
    const r = randomBytes(5).toString('hex')
    subnet = parseSubnet6(`fd${r.slice(0, 2)}:${r.slice(2, 6)}:${r.slice(6, 10)}::/64`)
  }
  let gateway = subnet.base + 1n
  if (c?.Gateway) {
    gateway = parseIPv6(c.Gateway)
    if (!contains6(subnet, gateway)) throw invalid(`no matching subnet for gateway ${c.Gateway}`)
  }
  return { subnet: formatSubnet6(subnet), gateway: formatIPv6(gateway) }
}

export function explicitPool(
  c: { Subnet?: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> | null },
  networks: Iterable<NetworkRecord>,
): NetworkRecord['ipam'][number] {
  const subnet = parseSubnet(c.Subnet!)
  if (subnet.prefix > 30) throw invalid(`invalid subnet ${c.Subnet}: too small for a network`)
  for (const n of networks) {
    for (const p of n.ipam) {
      if (overlaps(subnet, parseSubnet(p.subnet))) throw new CaisError('forbidden', `invalid pool request: Pool overlaps with other one on this address space`)
    }
  }
  let gateway = subnet.base + 1
  if (c.Gateway) {
    gateway = parseIPv4(c.Gateway)
    if (!contains(subnet, gateway)) throw invalid(`no matching subnet for gateway ${c.Gateway}`)
  }
  if (c.IPRange) {
    const range = parseSubnet(c.IPRange)
    if (!contains(subnet, range.base) || range.prefix < subnet.prefix) throw invalid(`no matching subnet for range ${c.IPRange}`)
  }
  const aux = Object.entries(c.AuxiliaryAddresses ?? {})
  for (const [name, address] of aux) {
    let ip: number
    try {
      ip = parseIPv4(address)
    } catch {
      throw invalid(`invalid auxiliary address ${name}=${address}`)
    }
    if (!contains(subnet, ip)) throw invalid(`no matching subnet for aux-address ${address}`)
  }
  return {
    subnet: formatSubnet(subnet),
    gateway: formatIPv4(gateway),
    ...(c.IPRange ? { ipRange: formatSubnet(parseSubnet(c.IPRange)) } : {}),
    ...(aux.length > 0 ? { auxAddresses: Object.fromEntries(aux) } : {}),
  }
}

/** The first subnet of the pools that no network of ours and no host route overlaps. */
export async function pickPool(c: { Gateway?: string } | undefined, networks: Iterable<NetworkRecord>, pools: ReadonlyArray<{ base: string; size: number }>): Promise<NetworkRecord['ipam'][number]> {
  const taken: Subnet[] = [...networks].flatMap((n) => n.ipam.map((p) => parseSubnet(p.subnet)))
  for (const r of await host.hostRoutes()) {
    const s = parseSubnet(r)
    if (s.prefix > 0) taken.push(s)
  }
  for (const pool of pools) {
    for (const s of splitPool(parseSubnet(pool.base), pool.size)) {
      if (taken.some((t) => overlaps(t, s))) continue
      const gateway = c?.Gateway ? parseIPv4(c.Gateway) : s.base + 1
      if (!contains(s, gateway)) continue
      return { subnet: formatSubnet(s), gateway: formatIPv4(gateway) }
    }
  }
  throw new CaisError('forbidden', 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network')
}

/** A static address (`--ip`): inside the subnet, on a user network, and free. */
export function claimStatic(n: NetworkRecord, text: string): string {
  const ip = parseIPv4(text)
  const pool = n.ipam[0]!
  if (!contains(parseSubnet(pool.subnet), ip)) throw invalid(`invalid endpoint settings: no configured subnet contains IP address ${text}`)
  if (n.isDefault) throw invalid('user specified IP address is supported on user defined networks only')
  const reserved = Object.values(pool.auxAddresses ?? {})
  if (text === pool.gateway || reserved.includes(text) || Object.values(n.endpoints).some((e) => e.address === text)) throw conflict(`Address already in use`)
  return text
}

/** The first free IPv4 address of the network's range (network, broadcast and gateway left out). */
export function nextFree(n: NetworkRecord): string {
  const pool = n.ipam[0]!
  const range = parseSubnet(pool.ipRange ?? pool.subnet)
  const subnet = parseSubnet(pool.subnet)
  const used = new Set([...Object.values(n.endpoints).map((e) => e.address), ...Object.values(pool.auxAddresses ?? {})])
  used.add(pool.gateway)
  for (let ip = range.base; ip < range.base + size(range); ip++) {
    if (ip === subnet.base || ip === subnet.base + size(subnet) - 1) continue // network and broadcast
    const text = formatIPv4(ip)
    if (!used.has(text)) return text
  }
  throw conflict(`no available IPv4 addresses on this network's address pools: ${n.name} (${n.id})`)
}

/** The first free IPv6 address of the network. */
export function nextFree6(n: NetworkRecord): string {
  const pool = n.ipam6!
  const subnet = parseSubnet6(pool.subnet)
  const used = new Set(Object.values(n.endpoints).map((e) => e.address6))
  used.add(pool.gateway)
  for (let ip = subnet.base + 1n; ip < subnet.base + 65536n; ip++) {
    const text = formatIPv6(ip)
    if (!used.has(text)) return text
  }
  throw conflict(`no available IPv6 addresses on this network's address pools: ${n.name} (${n.id})`)
}

/** The default bridge's pool from `--bip` (the gateway address with its prefix). */
export function poolFromCidr(cidr: string): NetworkRecord['ipam'][number] {
  const m = /^([\d.]+)\/(\d+)$/.exec(cidr)
  if (!m) throw invalid(`invalid --bip ${cidr}: expected a gateway address with a prefix, as 10.88.0.1/16`)
  const subnet = parseSubnet(cidr)
  return { subnet: formatSubnet(subnet), gateway: m[1]! }
}
