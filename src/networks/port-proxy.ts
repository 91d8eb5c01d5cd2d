import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { type Server, type Socket, connect, createServer } from 'node:net'
import { conflict, isErrno } from '../lib/errors.ts'

/** How long a UDP client's upstream socket outlives its last datagram either way, as Docker's proxy. */
const udpIdleMs = 90_000

/** One published port: where the host listens, and the container address it forwards to. */
export interface PortBinding {
  proto: 'tcp' | 'udp'
  hostIp: string
  /** 0 asks for an ephemeral port; the bound port is returned by `listen`. */
  hostPort: number
  containerIp: string
  containerPort: number
  /** Published on no address in particular: IPv6 as well as IPv4 (hostIp reads 0.0.0.0, as Docker shows it). */
  anyAddress?: boolean
}

/**
 * The userland proxy: caisd itself listens on each published port and relays to the container. It serves what
 * DNAT cannot — connections to 127.0.0.1 — and, by holding the port, makes a second binding of it fail at once.
 */
export class PortProxy {
  readonly #binding: PortBinding
  readonly #relay: boolean
  #server: Server | UdpSocket | undefined
  readonly #sockets = new Set<Socket>()

  /**
   * `relay: false` (`--userland-proxy=false`) only holds the port: DNAT, loopback included, takes every connection
   * before it would reach this socket, and what still does (IPv6 loopback) is refused, as without Docker's proxy.
   */
  constructor(binding: PortBinding, opts: { relay?: boolean } = {}) {
    this.#binding = binding
    this.#relay = opts.relay ?? true
  }

  async listen(): Promise<number> {
    const b = this.#binding
    const host = b.hostIp || '0.0.0.0'
    try {
      // A port published on no address in particular is reached over IPv6 too, as Docker's (`[::1]:port`): one
      // dual-stack socket on `::` takes both, with one port number. A host without IPv6 gets IPv4 alone.
      if (b.anyAddress) {
        try {
          return b.proto === 'tcp' ? await this.#listenTcp('::') : await this.#listenUdp('::')
        } catch (err) {
          if (!isErrno(err, 'EAFNOSUPPORT') && !isErrno(err, 'EADDRNOTAVAIL')) throw err
        }
      }
      return b.proto === 'tcp' ? await this.#listenTcp(host) : await this.#listenUdp(host)
    } catch (err) {
      if (isErrno(err, 'EADDRINUSE')) {
        throw conflict(`driver failed programming external connectivity on endpoint: Bind for ${host}:${b.hostPort} failed: port is already allocated`, err)
      }
      if (isErrno(err, 'EADDRNOTAVAIL')) throw conflict(`listen ${b.proto} ${host}:${b.hostPort}: bind: cannot assign requested address`, err)
      throw err
    }
  }

  #listenTcp(host: string): Promise<number> {
    const b = this.#binding
    // Half-open both ways: a client that shuts down its sending side (nc at the end of its input) still gets the
    // answer, and the container sees that end as it would directly.
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
      if (!this.#relay) {
        client.destroy()
        return
      }
      this.#sockets.add(client)
      const upstream = connect({ port: b.containerPort, host: b.containerIp, allowHalfOpen: true }, () => {
        client.pipe(upstream)
        upstream.pipe(client)
        client.resume()
      })
      this.#sockets.add(upstream)
      const close = (): void => {
        client.destroy()
        upstream.destroy()
        this.#sockets.delete(client)
        this.#sockets.delete(upstream)
      }
      client.on('error', close).on('close', close)
      upstream.on('error', close).on('close', close)
    })
    this.#server = server
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(b.hostPort, host, () => resolve((server.address() as { port: number }).port))
    })
  }

  #listenUdp(host: string): Promise<number> {
    const b = this.#binding
    const socket = host.includes(':') ? createSocket({ type: 'udp6', ipv6Only: false }) : createSocket('udp4')
    // One upstream socket per client address, so answers find their way back; closed after a quiet spell.
    const peers = new Map<string, { up: UdpSocket; idle: NodeJS.Timeout }>()
    socket.on('message', (msg, from) => {
      if (!this.#relay) return
      const key = `${from.address}:${from.port}`
      let peer = peers.get(key)
      if (!peer) {
        const up = createSocket('udp4')
        const forget = (): void => {
          clearTimeout(idle)
          peers.delete(key)
          up.close()
        }
        const idle = setTimeout(forget, udpIdleMs).unref()
        up.on('message', (reply) => {
          idle.refresh()
          socket.send(reply, from.port, from.address)
        })
        up.on('error', forget)
        peer = { up, idle }
        peers.set(key, peer)
      }
      peer.idle.refresh()
      peer.up.send(msg, b.containerPort, b.containerIp)
    })
    this.#server = socket
    socket.on('close', () => {
      for (const p of peers.values()) {
        clearTimeout(p.idle)
        p.up.close()
      }
    })
    return new Promise((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(b.hostPort, host, () => resolve(socket.address().port))
    })
  }

  close(): void {
    for (const s of this.#sockets) s.destroy()
    this.#server?.close()
    this.#server = undefined
  }
}
