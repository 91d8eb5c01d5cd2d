import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { withDeadline } from '../lib/deadline.ts'
import { CaisError, messageOf } from '../lib/errors.ts'
import { http } from '../lib/node-http.ts'
import type { Logger } from '../lib/log.ts'
import { unixPeerOf } from '../lib/unix-peer.ts'
import { type RequestContext, takeRestOfBody } from './context.ts'
import { httpStatusOf } from './errors.ts'
import { commonHeaders } from './headers.ts'
import type { Routes } from './router.ts'
import { apiVersion, compareVersions, minApiVersion } from './versions.ts'

/**
 * The Engine API's HTTP server: strips and checks the version prefix, sets the headers every response
 * carries, dispatches to the route table, and turns errors into Docker's `{"message": …}` bodies.
 */
/**
 * Limits on what a client may send before a handler sees it: a head (request line and headers) must arrive whole
 * within `headersTimeoutMs` (a slow client cannot hold a connection by trickling it), and be under
 * `maxHeaderBytes`. Bodies and streams have no time limit: a build upload or a `logs -f` may take hours.
 */
export const serverLimits = { headersTimeoutMs: 15_000, maxHeaderBytes: 64 * 1024, maxUrlBytes: 16 * 1024, keepAliveTimeoutMs: 5000, checkEveryMs: 1000 }

/** A request as the server saw it when it ended: its route's pattern (not its path, which names objects) and status. */
export interface ObservedRequest {
  method: string
  route: string
  status: number
  seconds: number
}

export class ApiServer {
  readonly #servers: Server[] = []
  readonly #routes: Routes
  readonly #log: Logger
  readonly #inflight = new Set<AbortController>()
  readonly #observe: ((r: ObservedRequest) => void) | undefined
  readonly #auditPeers: boolean
  #seq = 0

  /**
   * `observe` hears of each request when it ends, by its route's pattern (the metrics). `auditPeers`: the audit names
   * the user and process behind a unix-socket client (a `ss` per connection: +14–17 ms on a 43–48 ms `docker run`).
   */
  constructor(routes: Routes, log: Logger, opts: { observe?: (r: ObservedRequest) => void; auditPeers?: boolean } = {}) {
    this.#routes = routes
    this.#log = log
    this.#observe = opts.observe
    this.#auditPeers = opts.auditPeers ?? false
  }

  /** A plain HTTP server for one listener (TLS listeners pass their own https server to `serve`). */
  createServer(): Server {
    return this.serve(http.createServer({ maxHeaderSize: serverLimits.maxHeaderBytes, connectionsCheckingInterval: serverLimits.checkEveryMs }))
  }

  /** Serves the API on a server: its requests and upgrades, with the limits above. */
  serve<S extends Server>(server: S): S {
    server.requestTimeout = 0
    server.headersTimeout = serverLimits.headersTimeoutMs
    server.keepAliveTimeout = serverLimits.keepAliveTimeoutMs
    server.maxHeadersCount = 200
    // A client that half-closes after its request (`printf … | nc -U`, as people try Docker's socket) still gets
    // its answer, as from Go's server; Node's own default aborts the request in flight.
    ;(server as S & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res, undefined))
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#handle(req, undefined, { socket, head }))
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      // A head that is too large or malformed gets its status, as Go's server answers; then the connection goes.
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
      if (socket.writable) socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${status} ${http.STATUS_CODES[status]}`)
      socket.destroy()
    })
    this.#servers.push(server)
    return server
  }

  /** Stops accepting, ends long-lived streams, and resolves when in-flight requests are done (or after `graceMs`). */
  async close(graceMs = 10_000): Promise<void> {
    const closed = Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    for (const c of this.#inflight) c.abort()
    // Keep-alive connections become idle as their last request finishes: close them as they do.
    const sweep = setInterval(() => this.#servers.forEach((s) => s.closeIdleConnections()), 50)
    for (const s of this.#servers) s.closeIdleConnections()
    await Promise.race([closed, new Promise((r) => setTimeout(r, graceMs).unref())])
    clearInterval(sweep)
    for (const s of this.#servers) s.closeAllConnections()
  }

  async #handle(req: IncomingMessage, res: ServerResponse | undefined, upgrade: { socket: Duplex; head: Buffer } | undefined): Promise<void> {
    if ((req.url?.length ?? 0) > serverLimits.maxUrlBytes) {
      const body = JSON.stringify({ message: 'request URI too long' })
      if (res) res.writeHead(414, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' }).end(body)
      else upgrade?.socket.destroy()
      return
    }
    const url = new URL(req.url ?? '/', 'http://caisd')
    let path = url.pathname
    let version = apiVersion
    const m = /^\/v([0-9.]+)(\/.*)$/.exec(path)
    if (m) {
      version = m[1]!
      path = m[2]!
    }
    const abort = new AbortController()
    const log = this.#log.child({ req: ++this.#seq })
    const ctx: RequestContext = { req, res, upgrade, params: {}, query: url.searchParams, version, log, signal: abort.signal }
    this.#inflight.add(abort)
    const onClose = (): void => abort.abort()
    ;(res ?? upgrade?.socket)?.once('close', onClose)
    if (res) for (const [k, v] of Object.entries(commonHeaders())) res.setHeader(k, v)
    const started = performance.now()
    const mutating = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS'
    const peer = mutating ? peerOf(req) : ''
    // Over a unix socket the audit names the process and user at the other end. They can be found only while the
    // client is there, so the call waits for them, a little: once per connection, bounded. A hijacked connection
    // stays open, and its bytes must not wait for a reader: it goes on at once.
    const unixPeer = this.#auditPeers && peer.startsWith('unix:') ? unixPeerOf(req.socket) : undefined
    if (unixPeer && res) await withDeadline(unixPeer, PEER_LOOKUP_WAIT_MS, 'peer lookup').catch(() => undefined)
    let pattern = 'unmatched'
    try {
      if (m && compareVersions(version, apiVersion) > 0) {
        throw new CaisError('invalid', `client version ${version} is too new. Maximum supported API version is ${apiVersion}`)
      }
      if (m && compareVersions(version, minApiVersion) < 0) {
        throw new CaisError(
          'invalid',
          `client version ${version} is too old. Minimum supported API version is ${minApiVersion}, please upgrade your client to a newer version`,
        )
      }
      const method = req.method ?? 'GET'
      if (method === 'OPTIONS') {
        res?.writeHead(200).end()
        return
      }
      const route = this.#routes.match(method, path)
      if (!route) throw new CaisError('not-found', 'page not found')
      pattern = route.pattern
      ctx.params = route.params
      await route.handler(ctx)
    } catch (err) {
      if (res) await takeRestOfBody(req)
      this.#fail(ctx, err)
    } finally {
      this.#inflight.delete(abort)
      if (mutating) {
        const entry = { method: req.method, path: url.pathname, status: res?.statusCode ?? 101, peer }
        if (unixPeer) void unixPeer.then((p) => log.info('audit', p ? { ...entry, peer: `${peer} uid=${p.uid} pid=${p.pid} command=${p.command}` } : entry))
        else log.info('audit', entry)
      }
      const ms = performance.now() - started
      if (log.enabled('debug')) log.debug('request', { method: req.method, url: req.url, ms: +ms.toFixed(1) })
      this.#observe?.({ method: req.method ?? 'GET', route: pattern, status: res?.statusCode ?? 101, seconds: ms / 1000 })
    }
  }

  #fail(ctx: RequestContext, err: unknown): void {
    const status = httpStatusOf(err)
    if (status >= 500) ctx.log.error('request failed', { method: ctx.req.method, url: ctx.req.url, err })
    else ctx.log.debug('request refused', { url: ctx.req.url, status, message: messageOf(err) })
    const body = JSON.stringify({ message: messageOf(err) })
    if (ctx.res) {
      if (ctx.res.headersSent) {
        ctx.res.destroy()
        return
      }
      if (status === 304) {
        ctx.res.writeHead(304).end()
        return
      }
      ctx.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
      ctx.res.end(body)
      return
    }
    const socket = ctx.upgrade!.socket
    if (!socket.writable) return
    const headers = Object.entries(commonHeaders()).map(([k, v]) => `${k}: ${v}\r\n`).join('')
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n${headers}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
}

const PEER_LOOKUP_WAIT_MS = 250

/** Who is on the other end: the client certificate's subject over mutual TLS, else the socket it came in on. */
export function peerOf(req: IncomingMessage): string {
  const socket = req.socket as Partial<TLSSocket> & { server?: { address?: () => unknown } }
  if (typeof socket.getPeerCertificate === 'function' && socket.authorized) {
    const cert = socket.getPeerCertificate()
    const subject = Object.entries(cert.subject ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(',')
    return `tls:${subject}`
  }
  if (socket.remoteAddress) return `tcp:${socket.remoteAddress}:${socket.remotePort}`
  const address = socket.server?.address?.()
  return `unix:${typeof address === 'string' ? address : 'socket'}`
}
