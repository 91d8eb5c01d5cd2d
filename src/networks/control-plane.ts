import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http'
import { timingSafeEqual } from 'node:crypto'
import { CaisError, messageOf } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'

/** An overlay network as every daemon of the cluster knows it. */
export interface OverlayDefinition {
  id: string
  name: string
  subnet: string
  vni: number
  /** The node (its control-plane address) that created the network and hands out its addresses. */
  owner: string
  labels: Record<string, string>
  created: string
}

/** A container on an overlay network, as announced by the node it runs on. */
export interface RemoteEndpoint {
  containerId: string
  name: string
  aliases: string[]
  address: string
  node: string
}

/** What the control plane asks of the local network service. */
export interface OverlayHandlers {
  defineNetwork(def: OverlayDefinition): Promise<void>
  forgetNetwork(id: string): Promise<void>
  /** Owner only: an address of the network for a container (`endpoint`) or for a node's bridge (`node`). */
  allocate(id: string, holder: string, want?: string): Promise<string>
  release(id: string, address: string): Promise<void>
  addRemote(id: string, e: RemoteEndpoint): Promise<void>
  removeRemote(id: string, containerId: string): Promise<void>
  /** Everything this node defines and runs, for a peer that (re)starts. */
  snapshot(): { networks: OverlayDefinition[]; endpoints: Array<{ network: string; endpoint: RemoteEndpoint }> }
}

export interface ControlPlaneOptions {
  /** `ip:port` this node listens on; also its name in the cluster, and its VXLAN address is the ip. */
  listen: string
  peers: string[]
  /** A shared secret every request carries; an empty token accepts any peer (tests on a closed network). */
  token: string
  log: Logger
}

/**
 * The small control plane between caisd nodes that share overlay networks: a static peer list, JSON over HTTP,
 * each request carrying the cluster token. Network definitions and endpoint announcements are pushed to every
 * peer; addresses come from the network's owner, so two nodes never hand out the same one.
 */
export class ControlPlane {
  readonly #o: ControlPlaneOptions
  #server: Server | undefined
  #handlers: OverlayHandlers | undefined

  constructor(opts: ControlPlaneOptions) {
    this.#o = opts
  }

  get self(): string {
    return this.#o.listen
  }

  get peers(): readonly string[] {
    return this.#o.peers
  }

  /** The IP part of a node name: where its VXLAN tunnel ends. */
  static addressOf(node: string): string {
    return node.slice(0, node.lastIndexOf(':'))
  }

  async start(handlers: OverlayHandlers): Promise<void> {
    this.#handlers = handlers
    const server = createServer((req, res) => void this.#serve(req, res))
    const host = ControlPlane.addressOf(this.#o.listen)
    const port = Number(this.#o.listen.slice(this.#o.listen.lastIndexOf(':') + 1))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => resolve())
    })
    this.#server = server
    // Learn what peers already have; a peer that is down tells us when it comes up.
    for (const peer of this.#o.peers) {
      const state = await this.call<ReturnType<OverlayHandlers['snapshot']>>(peer, 'GET', '/v1/state').catch(() => undefined)
      if (!state) continue
      for (const n of state.networks) await handlers.defineNetwork(n).catch((err: unknown) => this.#o.log.warn('overlay: could not define a network', { network: n.name, err }))
      for (const { network, endpoint } of state.endpoints) await handlers.addRemote(network, endpoint).catch(() => {})
    }
  }

  close(): void {
    this.#server?.close()
    this.#server?.closeAllConnections()
  }

  /** Sends to every peer; a peer that cannot be reached is logged, not fatal (it resyncs when it starts). */
  async broadcast(method: string, path: string, body?: unknown): Promise<void> {
    await Promise.all(
      this.#o.peers.map((p) => this.call(p, method, path, body).catch((err: unknown) => this.#o.log.warn('overlay: peer unreachable', { peer: p, path, err: messageOf(err) }))),
    )
  }

  call<T>(peer: string, method: string, path: string, body?: unknown): Promise<T> {
    const data = body === undefined ? undefined : JSON.stringify(body)
    const host = ControlPlane.addressOf(peer)
    const port = Number(peer.slice(peer.lastIndexOf(':') + 1))
    return new Promise((resolve, reject) => {
      const req = request(
        { host, port, method, path, timeout: 5000, headers: { 'Content-Type': 'application/json', 'X-Cais-Node': this.#o.listen, Authorization: `Bearer ${this.#o.token}` } },
        (res) => {
          let text = ''
          res.on('data', (c: Buffer) => (text += c.toString()))
          res.on('end', () => {
            if ((res.statusCode ?? 500) >= 300) {
              reject(new CaisError('unavailable', `overlay peer ${peer}: ${(JSON.parse(text || '{}') as { message?: string }).message ?? `status ${res.statusCode}`}`))
              return
            }
            resolve((text ? JSON.parse(text) : undefined) as T)
          })
        },
      )
      req.on('timeout', () => req.destroy(new Error('timed out')))
      req.on('error', (err) => reject(new CaisError('unavailable', `overlay peer ${peer}: ${err.message}`, { cause: err })))
      req.end(data)
    })
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body?: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(body === undefined ? '' : JSON.stringify(body))
    }
    const given = Buffer.from(req.headers.authorization ?? '')
    const wanted = Buffer.from(`Bearer ${this.#o.token}`)
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return reply(401, { message: 'bad cluster token' })
    const h = this.#handlers!
    let text = ''
    for await (const c of req) text += (c as Buffer).toString()
    const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>
    const field = (k: string): string => (typeof body[k] === 'string' ? body[k] : '')
    const url = new URL(req.url ?? '/', 'http://node')
    const m = /^\/v1\/networks\/([a-f0-9]{64})(?:\/(allocate|release|endpoints)(?:\/([a-f0-9]{64}))?)?$/.exec(url.pathname)
    try {
      if (req.method === 'GET' && url.pathname === '/v1/state') return reply(200, h.snapshot())
      if (req.method === 'POST' && url.pathname === '/v1/networks') {
        await h.defineNetwork(body as unknown as OverlayDefinition)
        return reply(204)
      }
      if (!m) return reply(404, { message: 'no such route' })
      const [, id, verb, containerId] = m as unknown as [string, string, string | undefined, string | undefined]
      if (req.method === 'DELETE' && verb === undefined) await h.forgetNetwork(id)
      else if (req.method === 'POST' && verb === 'allocate') return reply(200, { address: await h.allocate(id, field('holder'), field('want') || undefined) })
      else if (req.method === 'POST' && verb === 'release') await h.release(id, field('address'))
      else if (req.method === 'POST' && verb === 'endpoints') await h.addRemote(id, body as unknown as RemoteEndpoint)
      else if (req.method === 'DELETE' && verb === 'endpoints' && containerId) await h.removeRemote(id, containerId)
      else return reply(404, { message: 'no such route' })
      return reply(204)
    } catch (err) {
      return reply(err instanceof CaisError && err.kind === 'not-found' ? 404 : 409, { message: messageOf(err) })
    }
  }
}
