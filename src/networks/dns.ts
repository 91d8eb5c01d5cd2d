import { createSocket, type Socket } from 'node:dgram'
import { readFile } from 'node:fs/promises'
import { isIPv4, isIPv6 } from 'node:net'
import { parseIPv6 } from './ipv6.ts'

/** Answers for one network: a name (lower case, no trailing dot), asked from an address → IPv4 addresses. */
export type NameTable = (name: string, from: string) => string[]

/**
 * The embedded DNS server of a user-defined network, listening on the network's gateway (port 53, UDP), as
 * podman's aardvark-dns does. Containers on the network resolve each other by name, alias and short ID; every
 * other question is relayed unchanged to the host's resolvers.
 */
export class DnsServer {
  readonly #address: string
  readonly #lookup: NameTable
  #socket: Socket | undefined
  #upstreams: string[] = []

  constructor(address: string, lookup: NameTable) {
    this.#address = address
    this.#lookup = lookup
  }

  async start(): Promise<void> {
    this.#upstreams = await hostResolvers()
    const socket = createSocket({ type: 'udp4', reuseAddr: true })
    socket.on('message', (msg, from) => this.#answer(msg, from.address, from.port))
    socket.on('error', () => {})
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(53, this.#address, () => resolve())
    })
    this.#socket = socket
  }

  close(): void {
    this.#socket?.close()
    this.#socket = undefined
  }

  #answer(msg: Buffer, address: string, port: number): void {
    const q = parseQuestion(msg)
    if (!q) return
    const ips = this.#lookup(q.name.toLowerCase().replace(/\.$/, ''), address)
    if (ips.length > 0) {
      // Known on this network: A and AAAA records; no data (but the name exists) for anything else.
      this.#socket?.send(answer(msg, q, q.type === 1 ? ips.filter(isIPv4) : q.type === 28 ? ips.filter(isIPv6) : []), port, address)
      return
    }
    const upstream = this.#upstreams[0]
    if (!upstream) {
      this.#socket?.send(failure(msg, q, 2), port, address)
      return
    }
    const relay = createSocket('udp4')
    const timer = setTimeout(() => relay.close(), 5000)
    relay.on('message', (reply) => {
      clearTimeout(timer)
      this.#socket?.send(reply, port, address)
      relay.close()
    })
    relay.on('error', () => {
      clearTimeout(timer)
      relay.close()
    })
    relay.send(msg, 53, upstream)
  }
}

interface Question {
  name: string
  type: number
  /** Offset just past the question section. */
  end: number
}

function parseQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return undefined
  const labels: string[] = []
  let i = 12
  while (i < msg.length) {
    const len = msg[i]!
    if (len === 0) break
    if (len > 63 || i + 1 + len > msg.length) return undefined
    labels.push(msg.toString('latin1', i + 1, i + 1 + len))
    i += 1 + len
  }
  if (i + 5 > msg.length) return undefined
  return { name: labels.join('.'), type: msg.readUInt16BE(i + 1), end: i + 5 }
}

function header(msg: Buffer, q: Question, rcode: number, answers: number): Buffer {
  const h = Buffer.from(msg.subarray(0, q.end))
  const rd = msg[2]! & 0x01
  h[2] = 0x80 | 0x04 | rd // response, authoritative, recursion desired as asked
  h[3] = 0x80 | rcode // recursion available
  h.writeUInt16BE(1, 4)
  h.writeUInt16BE(answers, 6)
  h.writeUInt16BE(0, 8)
  h.writeUInt16BE(0, 10)
  return h
}

function answer(msg: Buffer, q: Question, ips: string[]): Buffer {
  const records = ips.map((ip) => {
    const v6 = isIPv6(ip)
    const rr = Buffer.alloc(12 + (v6 ? 16 : 4))
    rr.writeUInt16BE(0xc00c, 0) // the name: a pointer to the question's
    rr.writeUInt16BE(v6 ? 28 : 1, 2) // AAAA or A
    rr.writeUInt16BE(1, 4) // IN
    rr.writeUInt32BE(600, 6)
    rr.writeUInt16BE(v6 ? 16 : 4, 10)
    if (v6) {
      const n = parseIPv6(ip)
      for (let k = 0; k < 16; k++) rr[12 + k] = Number((n >> BigInt(120 - k * 8)) & 0xffn)
    } else ip.split('.').forEach((part, k) => (rr[12 + k] = Number(part)))
    return rr
  })
  return Buffer.concat([header(msg, q, 0, records.length), ...records])
}

const failure = (msg: Buffer, q: Question, rcode: number): Buffer => header(msg, q, rcode, 0)

/** The host's nameservers, as the containers of user networks would otherwise have used them. */
export async function hostResolvers(): Promise<string[]> {
  const text = await readFile('/etc/resolv.conf', 'utf8').catch(() => '')
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!).filter(isIPv4)
}
