import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { Duplex } from 'node:stream'
import { STATUS_CODES } from 'node:http'
import { CaisError, messageOf } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { type RequestContext, takeRestOfBody } from './context.ts'
import { httpStatusOf } from './errors.ts'
import { commonHeaders } from './headers.ts'
import type { Routes } from './router.ts'
import { apiVersion, compareVersions, minApiVersion } from './versions.ts'

/**
 * The Engine API's HTTP server: strips and checks the version prefix, sets the headers every response
 * carries, dispatches to the route table, and turns errors into Docker's `{"message": …}` bodies.
 */
export class ApiServer {
  readonly server: Server
  readonly #routes: Routes
  readonly #log: Logger
  readonly #inflight = new Set<AbortController>()
  #seq = 0

  constructor(routes: Routes, log: Logger) {
    this.#routes = routes
    this.#log = log
    this.server = createServer({ requestTimeout: 0, keepAliveTimeout: 5000 }, (req, res) => void this.#handle(req, res, undefined))
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#handle(req, undefined, { socket, head }))
    this.server.on('clientError', (_err, socket) => socket.destroy())
  }

  /** Stops accepting, ends long-lived streams, and resolves when in-flight requests are done (or after `graceMs`). */
  async close(graceMs = 10_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const c of this.#inflight) c.abort()
    // Keep-alive connections become idle as their last request finishes: close them as they do.
    const sweep = setInterval(() => this.server.closeIdleConnections(), 50)
    this.server.closeIdleConnections()
    await Promise.race([closed, new Promise((r) => setTimeout(r, graceMs).unref())])
    clearInterval(sweep)
    this.server.closeAllConnections()
  }

  async #handle(req: IncomingMessage, res: ServerResponse | undefined, upgrade: { socket: Duplex; head: Buffer } | undefined): Promise<void> {
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
      ctx.params = route.params
      await route.handler(ctx)
    } catch (err) {
      if (res) await takeRestOfBody(req)
      this.#fail(ctx, err)
    } finally {
      this.#inflight.delete(abort)
      if (log.enabled('debug')) log.debug('request', { method: req.method, url: req.url, ms: +(performance.now() - started).toFixed(1) })
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
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${headers}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
}
