import { createHash } from 'node:crypto'
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { pipeline } from 'node:stream/promises'
import { type Digest, DigestingStream } from '../content/digest.ts'
import { mediaTypes } from '../images/types.ts'
import { type Action, type Authorizer, anonymous } from './auth.ts'
import { RegistryError } from './errors.ts'
import type { UpstreamCache } from './proxy.ts'
import { checkDigest, checkName, checkTag, isDigest } from './names.ts'
import type { RegistryStorage } from './storage.ts'

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
const IMAGE_MANIFESTS: string[] = [mediaTypes.dockerManifest, mediaTypes.ociManifest]
const INDEXES: string[] = [mediaTypes.dockerManifestList, mediaTypes.ociIndex]

export interface RegistryServerOptions {
  storage: RegistryStorage
  authorizer?: Authorizer
  /** Certificate and key (PEM): HTTPS, HTTP/1.1. */
  tls?: { cert: Buffer; key: Buffer }
  metrics?: RegistryMetrics
  /** Pull-through cache mode: reads fall through to this upstream, writes are refused. */
  proxy?: UpstreamCache
  /** The built-in token issuer, answering `GET /token`. */
  tokenEndpoint?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>
  /** One line per request: method, path, status, bytes, milliseconds. */
  accessLog?: (entry: Record<string, unknown>) => void
}

interface Ctx {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  proxy?: UpstreamCache | undefined
}

/** The OCI distribution API (v1.1) over a storage driver: what `cais registry serve` runs. */
export function createRegistryServer(opts: RegistryServerOptions): Server {
  const { storage } = opts
  const authorizer = opts.authorizer ?? anonymous
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now()
    const url = new URL(req.url ?? '/', 'http://registry')
    // Counted from the connection, not by listening to the body (which would start it flowing before a handler reads it).
    const readBefore = req.socket.bytesRead
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0')
    res.on('finish', () => {
      const entry = { method: req.method ?? 'GET', path: url.pathname, status: res.statusCode, sent: Number(res.getHeader('Content-Length') ?? 0), received: req.socket.bytesRead - readBefore, ms: +(performance.now() - started).toFixed(1) }
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
  const server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener) : createServer(listener)
  server.headersTimeout = 30_000
  return server
}

function fail(res: ServerResponse, err: unknown): void {
  const e = err instanceof RegistryError ? err : new RegistryError('UNSUPPORTED', 'internal error', undefined, 500)
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = JSON.stringify({ errors: [{ code: e.status === 500 ? 'UNKNOWN' : e.code, message: e.message, detail: e.detail ?? null }] })
  // A 416 tells the client where the upload stands (Range, Location), so it can resume.
  const extra = (err as { headers?: Record<string, string> }).headers ?? {}
  res.writeHead(e.status, { ...extra, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body)
}

function send(res: ServerResponse, status: number, headers: Record<string, string | number> = {}, body?: string | Buffer): void {
  res.writeHead(status, { 'Content-Length': body === undefined ? 0 : Buffer.byteLength(body), ...headers })
  res.end(body)
}

async function readAll(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length
    if (size > limit) throw new RegistryError('SIZE_INVALID', 'payload too large', { limit }, 413)
    chunks.push(c)
  }
  return Buffer.concat(chunks)
}

/** Prometheus counters and a latency histogram of the requests served, for `/metrics`. */
export class RegistryMetrics {
  readonly #requests = new Map<string, number>()
  #sent = 0
  #received = 0
  readonly #buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
  readonly #counts = new Array<number>(this.#buckets.length + 1).fill(0)
  #sum = 0

  observe(e: { method: string; status: number; sent: number; received: number; ms: number }): void {
    const key = `method="${e.method}",code="${e.status}"`
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1)
    this.#sent += e.sent
    this.#received += e.received
    const s = e.ms / 1000
    this.#sum += s
    const i = this.#buckets.findIndex((b) => s <= b)
    this.#counts[i < 0 ? this.#buckets.length : i]!++
  }

  render(): string {
    const lines = ['# HELP registry_http_requests_total Requests served, by method and status.', '# TYPE registry_http_requests_total counter']
    for (const [k, v] of this.#requests) lines.push(`registry_http_requests_total{${k}} ${v}`)
    lines.push('# HELP registry_http_response_bytes_total Bytes sent in response bodies.', '# TYPE registry_http_response_bytes_total counter', `registry_http_response_bytes_total ${this.#sent}`)
    lines.push('# HELP registry_http_request_bytes_total Bytes received in request bodies.', '# TYPE registry_http_request_bytes_total counter', `registry_http_request_bytes_total ${this.#received}`)
    lines.push('# HELP registry_http_request_duration_seconds Time to answer a request.', '# TYPE registry_http_request_duration_seconds histogram')
    let cumulative = 0
    for (const [i, b] of this.#buckets.entries()) {
      cumulative += this.#counts[i]!
      lines.push(`registry_http_request_duration_seconds_bucket{le="${b}"} ${cumulative}`)
    }
    cumulative += this.#counts[this.#buckets.length]!
    lines.push(`registry_http_request_duration_seconds_bucket{le="+Inf"} ${cumulative}`, `registry_http_request_duration_seconds_sum ${this.#sum.toFixed(6)}`, `registry_http_request_duration_seconds_count ${cumulative}`)
    return `${lines.join('\n')}\n`
  }
}

const sha256 = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`

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

/** `n`/`last` pagination with a `Link` header to the next page, as tags and the catalog have it. */
function paginate({ res, url }: Ctx, key: 'tags' | 'repositories', all: string[], repo?: string): void {
  const last = url.searchParams.get('last')
  const nParam = url.searchParams.get('n')
  let items = last ? all.filter((x) => x > last) : all
  const n = nParam === null ? undefined : Number(nParam)
  if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw new RegistryError('UNSUPPORTED', 'invalid n', { n: nParam }, 400)
  const headers: Record<string, string> = { 'Content-Type': 'application/json' }
  if (n !== undefined && items.length > n) {
    items = items.slice(0, n)
    headers['Link'] = `<${url.pathname}?n=${n}&last=${encodeURIComponent(items.at(-1) ?? '')}>; rel="next"`
  }
  send(res, 200, headers, JSON.stringify(key === 'tags' ? { name: repo, tags: items } : { repositories: items }))
}

async function blob({ req, res, proxy }: Ctx, storage: RegistryStorage, repo: string, digest: Digest, method: string): Promise<void> {
  if (method === 'DELETE') {
    if (!(await storage.unlinkBlob(repo, digest))) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest })
    return send(res, 202)
  }
  if (method !== 'GET' && method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, 405)
  if (proxy && !(await storage.blobLinked(repo, digest))) await proxy.blob(repo, digest)
  const size = (await storage.blobLinked(repo, digest)) ? await storage.blobSize(digest) : undefined
  if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest })
  const headers: Record<string, string | number> = { 'Docker-Content-Digest': digest, 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: `"${digest}"` }
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
  if (range && size > 0 && (range[1] !== '' || range[2] !== '')) {
    const start = range[1] === '' ? Math.max(0, size - Number(range[2])) : Number(range[1])
    const end = range[1] === '' || range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1)
    if (start > end || start >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 }).end()
      return
    }
    res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 })
    if (method === 'HEAD') return void res.end()
    await pipeline(storage.openBlob(digest, { start, end }), res)
    return
  }
  res.writeHead(200, { ...headers, 'Content-Length': size })
  if (method === 'HEAD') return void res.end()
  await pipeline(storage.openBlob(digest), res)
}

async function uploads(ctx: Ctx, storage: RegistryStorage, repo: string, id: string, method: string): Promise<void> {
  const { req, res, url } = ctx
  const location = (uid: string): string => `/v2/${repo}/blobs/uploads/${uid}`
  const progress = (uid: string, size: number): Record<string, string> => ({ Location: location(uid), Range: `0-${Math.max(0, size - 1)}`, 'Docker-Upload-UUID': uid })
  if (id === '') {
    if (method !== 'POST') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, 405)
    const mount = url.searchParams.get('mount')
    const from = url.searchParams.get('from')
    if (mount && from) {
      const digest = checkDigest(mount)
      if (await storage.blobLinked(checkName(from), digest)) {
        await storage.linkBlob(repo, digest)
        return send(res, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest })
      }
      // A mount that cannot be made is a new session, never an error.
    }
    const monolithic = url.searchParams.get('digest')
    if (monolithic) {
      // Streamed to disk and hashed on the way: a 100 MB blob costs no 100 MB of memory.
      const digest = checkDigest(monolithic)
      const uid = await storage.startUpload(repo)
      const hasher = new DigestingStream()
      await storage.appendUpload(uid, req, hasher).catch(async (err: unknown) => {
        await storage.cancelUpload(uid)
        throw err
      })
      if (hasher.digest() !== digest) {
        await storage.cancelUpload(uid)
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest })
      }
      await storage.commitUpload(uid, digest)
      await storage.linkBlob(repo, digest)
      return send(res, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest })
    }
    const uid = await storage.startUpload(repo)
    const size = Number(req.headers['content-length'] ?? 0) > 0 ? await storage.appendUpload(uid, req) : 0
    return send(res, 202, { ...progress(uid, size), 'OCI-Chunk-Min-Length': 0 })
  }
  const state = await storage.uploadState(id)
  if (!state || state.repo !== repo) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { id })
  switch (method) {
    case 'GET':
      return send(res, 204, progress(id, state.size))
    case 'DELETE':
      await storage.cancelUpload(id)
      return send(res, 204)
    case 'PATCH': {
      checkChunkRange(req, state.size, progress(id, state.size))
      const size = await storage.appendUpload(id, req)
      return send(res, 202, progress(id, size))
    }
    case 'PUT': {
      const digest = checkDigest(url.searchParams.get('digest') ?? '')
      if (req.headers['content-range']) checkChunkRange(req, state.size, progress(id, state.size))
      // A PUT carrying the whole blob is hashed as it is written; one finishing earlier chunks reads them back.
      const hasher = state.size === 0 ? new DigestingStream() : undefined
      const size = await storage.appendUpload(id, req, hasher)
      const actual = hasher ? hasher.digest() : await storage.uploadDigest(id)
      if (actual !== digest) {
        await storage.cancelUpload(id)
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest, actual, size })
      }
      await storage.commitUpload(id, digest)
      await storage.linkBlob(repo, digest)
      return send(res, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest })
    }
    default:
      throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, 405)
  }
}

/** A chunk must start where the upload ends: `Content-Range: start-end`, inclusive; out of order is a 416. */
function checkChunkRange(req: IncomingMessage, size: number, headers: Record<string, string>): void {
  const header = req.headers['content-range']
  if (header === undefined) return
  const m = /^(?:bytes )?(\d+)-(\d+)$/.exec(header)
  const length = req.headers['content-length']
  if (!m || Number(m[1]) !== size || Number(m[2]) < Number(m[1]) || (length !== undefined && Number(length) !== Number(m[2]) - Number(m[1]) + 1)) {
    throw Object.assign(new RegistryError('RANGE_INVALID', 'invalid content range', { range: header, expectedStart: size }), { headers })
  }
}

interface Descriptor {
  mediaType?: string
  digest: string
  size?: number
  artifactType?: string
  annotations?: Record<string, string>
}

interface ManifestDoc {
  mediaType?: string
  artifactType?: string
  config?: Descriptor
  layers?: Descriptor[]
  manifests?: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
}

async function manifest({ req, res, proxy }: Ctx, storage: RegistryStorage, repo: string, ref: string, method: string): Promise<void> {
  const byDigest = isDigest(ref)
  if (method === 'PUT') {
    if (!byDigest) checkTag(ref)
    const body = await readAll(req, MAX_MANIFEST_BYTES)
    const digest = sha256(body)
    if (byDigest && checkDigest(ref) !== digest) throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest: ref, actual: digest })
    let doc: ManifestDoc
    try {
      doc = JSON.parse(body.toString('utf8')) as ManifestDoc
    } catch {
      throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: 'not JSON' })
    }
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim() || doc.mediaType || ''
    if (doc.mediaType && doc.mediaType !== mediaType) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: `mediaType ${doc.mediaType} does not match Content-Type ${mediaType}` })
    if (IMAGE_MANIFESTS.includes(mediaType)) {
      if (!doc.config?.digest || !Array.isArray(doc.layers)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: 'config and layers are required' })
      for (const d of [doc.config, ...doc.layers]) {
        const digest = checkDigest(String(d.digest))
        if (!(await storage.blobLinked(repo, digest))) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest })
      }
    } else if (INDEXES.includes(mediaType)) {
      if (!Array.isArray(doc.manifests)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: 'manifests is required' })
      for (const d of doc.manifests) {
        const digest = checkDigest(String(d.digest))
        if (!(await storage.manifestType(repo, digest))) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest })
      }
    } else throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: `unsupported media type ${mediaType || '(none)'}` })
    await storage.putBlob(digest, body)
    await storage.putManifest(repo, digest, mediaType)
    if (!byDigest) await storage.tag(repo, ref, digest)
    const headers: Record<string, string> = { Location: `/v2/${repo}/manifests/${digest}`, 'Docker-Content-Digest': digest }
    if (doc.subject?.digest) headers['OCI-Subject'] = doc.subject.digest
    return send(res, 201, headers)
  }
  if (byDigest) checkDigest(ref)
  else checkTag(ref)
  // A cache asks upstream for a tag every time (it may have moved), for a digest only when it has not got it.
  if (proxy && (method === 'GET' || method === 'HEAD') && (!byDigest || !(await storage.manifestType(repo, ref as Digest)))) await proxy.manifest(repo, ref, byDigest)
  const digest = byDigest ? (ref as Digest) : await storage.resolveTag(repo, ref)
  if (method === 'DELETE') {
    if (!byDigest) {
      if (!(await storage.untag(repo, ref))) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { tag: ref })
      return send(res, 202)
    }
    if (!(await storage.deleteManifest(repo, digest!))) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { digest: ref })
    return send(res, 202)
  }
  if (method !== 'GET' && method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, 405)
  const mediaType = digest ? await storage.manifestType(repo, digest) : undefined
  if (!digest || !mediaType) {
    if (!(await storage.repositoryExists(repo))) throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: repo })
    throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', byDigest ? { digest: ref } : { tag: ref })
  }
  const size = (await storage.blobSize(digest))!
  res.writeHead(200, { 'Content-Type': mediaType, 'Content-Length': size, 'Docker-Content-Digest': digest, ETag: `"${digest}"` })
  if (method === 'HEAD') return void res.end()
  await pipeline(storage.openBlob(digest), res)
}

/** The manifests of a repository whose `subject` is the digest, as an OCI index (filtered by `artifactType`). */
async function referrers({ res, url }: Ctx, storage: RegistryStorage, repo: string, subject: Digest): Promise<void> {
  const filter = url.searchParams.get('artifactType')
  const found: Descriptor[] = []
  for (const digest of await storage.manifests(repo)) {
    const mediaType = (await storage.manifestType(repo, digest)) ?? ''
    const chunks: Buffer[] = []
    for await (const c of storage.openBlob(digest) as AsyncIterable<Buffer>) chunks.push(c)
    const body = Buffer.concat(chunks)
    let doc: ManifestDoc
    try {
      doc = JSON.parse(body.toString('utf8')) as ManifestDoc
    } catch {
      continue
    }
    if (doc.subject?.digest !== subject) continue
    const artifactType = doc.artifactType ?? doc.config?.mediaType
    if (filter && artifactType !== filter) continue
    found.push({ mediaType, digest, size: body.length, ...(artifactType ? { artifactType } : {}), ...(doc.annotations ? { annotations: doc.annotations } : {}) })
  }
  const headers: Record<string, string> = { 'Content-Type': mediaTypes.ociIndex }
  if (filter) headers['OCI-Filters-Applied'] = 'artifactType'
  send(res, 200, headers, JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests: found }))
}
