import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { http } from '../lib/node-http.ts'
import { type Action, type Authorizer, anonymous } from './auth.ts'
import { blob, uploads } from './blobs.ts'
import { RegistryError } from './errors.ts'
import { type Ctx, fail, paginate, send } from './http.ts'
import { manifest, referrers } from './manifests.ts'
import type { RegistryMetrics } from './metrics.ts'
import { checkDigest, checkName } from './names.ts'
import type { UpstreamCache } from './proxy.ts'
import type { RegistryStorage } from './storage.ts'

export { RegistryMetrics } from './metrics.ts'

export interface RegistryServerOptions {
  storage: RegistryStorage
  authorizer?: Authorizer
  /** Certificate and key (PEM): HTTPS, with HTTP/2 for clients that offer it (ALPN), HTTP/1.1 for the others. */
  tls?: { cert: Buffer; key: Buffer }
  metrics?: RegistryMetrics
  /** Pull-through cache mode: reads fall through to this upstream, writes are refused. */
  proxy?: UpstreamCache
  /** The built-in token issuer, answering `GET /token`. */
  tokenEndpoint?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>
  /** One line per request: method, path, status, bytes, milliseconds. */
  accessLog?: (entry: Record<string, unknown>) => void
}

/** The OCI distribution API (v1.1) over a storage driver: what `cais registry serve` runs. */
export async function createRegistryServer(opts: RegistryServerOptions): Promise<Server | Http2SecureServer> {
  const { storage } = opts
  const authorizer = opts.authorizer ?? anonymous
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now()
    const url = new URL(req.url ?? '/', 'http://registry')
    // The body's Content-Length; without one (a chunked upload), what the connection read meanwhile, not by
    // listening to the body (which would start it flowing before a handler reads it). HTTP/2 has no per-request
    // count on its shared connection.
    const length = Number(req.headers['content-length'] ?? Number.NaN)
    const declared = Number.isSafeInteger(length) && length >= 0 ? length : undefined
    const readBefore = req.socket.bytesRead
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0')
    res.on('finish', () => {
      const received = declared ?? (req.httpVersionMajor === 2 ? 0 : req.socket.bytesRead - readBefore)
      const entry = { method: req.method ?? 'GET', path: url.pathname, status: res.statusCode, sent: Number(res.getHeader('Content-Length') ?? 0), received, ms: +(performance.now() - started).toFixed(1), http: req.httpVersion }
      opts.metrics?.observe(entry)
      opts.accessLog?.(entry)
    })
    if (url.pathname === '/metrics' && opts.metrics) {
      const body = opts.metrics.render()
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': Buffer.byteLength(body) }).end(body)
      return
    }
    if (url.pathname === '/token' && opts.tokenEndpoint) {
      opts.tokenEndpoint(req, res, url).catch((err: unknown) => fail(res, err))
      return
    }
    handle({ req, res, url, proxy: opts.proxy }, storage, authorizer).catch((err: unknown) => fail(res, err))
  }
  if (opts.tls) {
    // Loaded only for TLS (HTTP/2 is offered only there): the module alone is 10 MiB resident.
    const { createSecureServer } = await import('node:http2')
    // The compatibility API gives HTTP/2 requests the shape of HTTP/1's (headers, method, url, a readable body, a
    // writable response with writeHead/setHeader/end/destroy): the handlers use nothing beyond that common part.
    const compatible = listener as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void
    const secure = createSecureServer({ cert: opts.tls.cert, key: opts.tls.key, allowHTTP1: true }, compatible)
    // Idle connections (a client that stalls, mid-headers or mid-body) are closed after two minutes.
    secure.setTimeout(120_000)
    return secure
  }
  const server = http.createServer(listener)
  server.headersTimeout = 30_000
  return server
}

async function handle(ctx: Ctx, storage: RegistryStorage, authorizer: Authorizer): Promise<void> {
  const { req, res, url } = ctx
  const method = req.method ?? 'GET'
  const path = url.pathname
  const action: Action = method === 'GET' || method === 'HEAD' ? 'pull' : method === 'DELETE' ? 'delete' : 'push'
  const repoOf = /^\/v2\/(.+?)\/(?:blobs|manifests|tags|referrers)\//.exec(path)?.[1]
  if (path !== '/healthz') await authorizer.check(req, repoOf, action)
  // A mount reads the other repository: its pull is checked too.
  const from = url.searchParams.get('from')
  if (from && repoOf) await authorizer.check(req, from, 'pull')
  if (method !== 'GET' && method !== 'HEAD' && ctx.proxy) throw new RegistryError('UNSUPPORTED', 'the registry is a pull-through cache: it takes no pushes', undefined, 405)
  if (method !== 'GET' && method !== 'HEAD' && storage.collecting?.()) {
    throw new RegistryError('UNSUPPORTED', 'the registry is read-only while its garbage is collected', undefined, 503)
  }
  if (path === '/v2/' || path === '/v2') return send(res, 200, { 'Content-Type': 'application/json' }, '{}')
  if (path === '/healthz') return send(res, 200, { 'Content-Type': 'text/plain' }, 'ok\n')
  if (path === '/v2/_catalog') {
    if (method !== 'GET') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, 405)
    return paginate(ctx, 'repositories', await storage.repositories())
  }
  const m = /^\/v2\/(.+?)\/(blobs\/uploads\/?(.*)|blobs\/([^/]+)|manifests\/([^/]+)|tags\/list|referrers\/([^/]+))$/.exec(path)
  if (!m) throw new RegistryError('NAME_UNKNOWN', 'page not found', { path }, 404)
  const repo = checkName(m[1]!)
  const [, , what, uploadId, blobRef, manifestRef, referrersOf] = m
  if (what!.startsWith('blobs/uploads')) return uploads(ctx, storage, repo, uploadId ?? '', method)
  if (blobRef !== undefined) return blob(ctx, storage, repo, checkDigest(blobRef), method)
  if (manifestRef !== undefined) return manifest(ctx, storage, repo, manifestRef, method)
  if (referrersOf !== undefined) return referrers(ctx, storage, repo, checkDigest(referrersOf))
  if (!(await storage.repositoryExists(repo))) throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: repo })
  return paginate(ctx, 'tags', await storage.tags(repo), repo)
}
