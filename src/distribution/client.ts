import type { Readable } from 'node:stream'
import { type Digest, digestOf } from '../content/digest.ts'
import { CaisError, invalid, notFound } from '../lib/errors.ts'
import { mediaTypes } from '../images/types.ts'
import { type Challenge, type Credentials, basicAuth, parseChallenge } from './auth.ts'
import type { RegistryHost } from './hosts.ts'
import { decodeErrors, describeError } from './errors.ts'
import { type HttpResponse, readAll, send } from './http.ts'

export const manifestAccept = [
  mediaTypes.dockerManifest,
  mediaTypes.dockerManifestList,
  mediaTypes.ociManifest,
  mediaTypes.ociIndex,
].join(', ')

export interface FetchedManifest {
  bytes: Buffer
  mediaType: string
  digest: Digest
}

export interface SearchResult {
  name: string
  description: string
  star_count: number
  is_official: boolean
  is_automated: boolean
}

interface RequestOptions {
  headers?: Record<string, string>
  body?: Buffer | Readable
  /** Token scopes this request needs, e.g. `repository:library/busybox:pull`. */
  scopes: string[]
  /** Answers that are not errors here; anything else becomes a registry error. */
  ok?: number[]
  signal?: AbortSignal
}

const retryDelaysMs = [250, 1000, 3000]
const redirectStatuses = new Set([301, 302, 303, 307, 308])

/**
 * A client for one registry (OCI distribution API), with one set of credentials. It picks HTTPS, or plain
 * HTTP for insecure registries, answers Basic and Bearer challenges (tokens cached per scope set until they
 * expire), retries idempotent requests on 5xx and connection errors, and follows blob redirects.
 */
export class RegistryClient {
  readonly host: RegistryHost
  readonly #creds: Credentials | undefined
  #base: URL | undefined
  #challenge: Challenge | undefined
  readonly #tokens = new Map<string, { token: string; expires: number }>()

  constructor(host: RegistryHost, creds: Credentials | undefined) {
    this.host = host
    this.#creds = creds
  }

  /** `GET /v2/`: finds the scheme and the auth challenge. Throws when the registry cannot be reached. */
  async ping(signal?: AbortSignal): Promise<void> {
    if (this.#base) return
    const schemes = this.host.scheme ? [this.host.scheme] : this.host.insecure ? ['https', 'http'] : ['https']
    let lastErr: unknown
    for (const scheme of schemes) {
      const url = new URL(`${scheme}://${this.host.address}/v2/`)
      try {
        const res = await this.#send('GET', url, {}, undefined, signal)
        await readAll(res.body).catch(() => undefined)
        if (res.status !== 200 && res.status !== 401) {
          lastErr = new Error(`Get "${url.href}": unexpected status ${res.status}`)
          continue
        }
        this.#base = new URL(`${scheme}://${this.host.address}`)
        this.#challenge = res.status === 401 ? parseChallenge(header(res, 'www-authenticate')) : undefined
        return
      } catch (err) {
        lastErr = err instanceof CaisError ? err : new Error(`Get "${url.href}": ${describeNetError(err)}`, { cause: err })
      }
    }
    throw lastErr
  }

  /** Checks credentials the way `docker login` does: a token (or the Basic-authenticated ping) must be granted. */
  async login(signal?: AbortSignal): Promise<void> {
    await this.ping(signal)
    if (!this.#challenge) return
    const res = await this.request('GET', '/v2/', { scopes: [], ok: [200], ...(signal ? { signal } : {}) })
    res.body.resume()
  }

  async request(method: string, pathOrUrl: string | URL, opts: RequestOptions): Promise<HttpResponse> {
    await this.ping(opts.signal)
    const url = typeof pathOrUrl === 'string' ? new URL(pathOrUrl, this.#base) : pathOrUrl
    const idempotent = method === 'GET' || method === 'HEAD'
    let refreshed = false
    for (let attempt = 0; ; attempt++) {
      const headers = { ...opts.headers }
      const auth = await this.#authorization(opts.scopes, refreshed, opts.signal)
      if (auth) headers['Authorization'] = auth
      let res: HttpResponse
      try {
        res = await this.#sendFollowing(method, url, headers, opts.body, opts.signal)
      } catch (err) {
        if (idempotent && attempt < retryDelaysMs.length && !opts.signal?.aborted) {
          await sleep(retryDelaysMs[attempt]!)
          continue
        }
        throw new Error(`${titleCase(method)} "${url.href}": ${describeNetError(err)}`, { cause: err })
      }
      const replayable = opts.body === undefined || Buffer.isBuffer(opts.body)
      if (res.status === 401 && !refreshed && this.#challenge?.scheme === 'bearer' && replayable) {
        res.body.resume()
        refreshed = true
        continue
      }
      if (res.status >= 500 && idempotent && attempt < retryDelaysMs.length) {
        res.body.resume()
        await sleep(retryDelaysMs[attempt]!)
        continue
      }
      if (opts.ok && !opts.ok.includes(res.status)) throw await registryError(res, method, url)
      return res
    }
  }

  async getManifest(repo: string, reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const res = await this.request('GET', `/v2/${repo}/manifests/${reference}`, {
      headers: { Accept: manifestAccept },
      scopes: [pullScope(repo)],
      ...(signal ? { signal } : {}),
    })
    if (res.status === 404) {
      res.body.resume()
      throw notFound(`manifest unknown: manifest unknown`)
    }
    if (res.status !== 200) throw await registryError(res, 'GET', new URL(`/v2/${repo}/manifests/${reference}`, this.#base))
    const bytes = await readAll(res.body, 4 * 1024 * 1024)
    const digest = digestOf(bytes)
    const expected = reference.includes(':') ? reference : header(res, 'docker-content-digest')
    if (expected && expected.startsWith('sha256:') && expected !== digest) {
      throw invalid(`manifest verification failed for digest ${expected}: got ${digest}`)
    }
    let mediaType = (header(res, 'content-type') ?? '').split(';')[0]!.trim()
    try {
      const fromBody = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType
      if (fromBody) mediaType = fromBody
    } catch {
      throw invalid(`invalid manifest for ${repo}:${reference}: not JSON`)
    }
    return { bytes, mediaType, digest }
  }

  /** Opens a blob for reading; its digest is for the caller to verify. */
  async getBlob(repo: string, digest: Digest, signal?: AbortSignal): Promise<{ body: Readable; size: number | undefined }> {
    const res = await this.request('GET', `/v2/${repo}/blobs/${digest}`, { scopes: [pullScope(repo)], ok: [200], ...(signal ? { signal } : {}) })
    const length = header(res, 'content-length')
    return { body: res.body, size: length ? Number(length) : undefined }
  }

  /** Size of a blob in the repository, or undefined when the registry does not have it there. */
  async statBlob(repo: string, digest: Digest, scopes: string[]): Promise<number | undefined> {
    const res = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, { scopes, ok: [200, 404] })
    res.body.resume()
    return res.status === 200 ? Number(header(res, 'content-length') ?? 0) : undefined
  }

  /**
   * Starts an upload; with `mount`, asks the registry to link the blob from another repository instead.
   * Returns null when the mount worked, else the upload's location.
   */
  async startUpload(repo: string, mount?: { digest: Digest; from: string }): Promise<URL | null> {
    const query = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : ''
    const scopes = [pushScope(repo), ...(mount ? [pullScope(mount.from)] : [])]
    const res = await this.request('POST', `/v2/${repo}/blobs/uploads/${query}`, { scopes, ok: [201, 202], body: Buffer.alloc(0) })
    res.body.resume()
    if (res.status === 201) return null
    return this.#location(res)
  }

  /** Sends one chunk of an upload (`PATCH` with Content-Range); returns where the next one goes. */
  async uploadChunk(repo: string, location: URL, chunk: Buffer, offset: number): Promise<URL> {
    const res = await this.request('PATCH', location, {
      scopes: [pushScope(repo)],
      ok: [202],
      body: chunk,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
    })
    res.body.resume()
    return this.#location(res)
  }

  /** Completes an upload with its digest, sending `body` (the whole blob, for a monolithic upload) if given. */
  async finishUpload(repo: string, location: URL, digest: Digest, body: Buffer | Readable, size: number): Promise<void> {
    const url = new URL(location)
    url.searchParams.set('digest', digest)
    const res = await this.request('PUT', url, {
      scopes: [pushScope(repo)],
      ok: [201],
      body,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
    })
    res.body.resume()
  }

  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const res = await this.request('PUT', `/v2/${repo}/manifests/${reference}`, {
      scopes: [pushScope(repo)],
      ok: [201],
      body: bytes,
      headers: { 'Content-Type': mediaType },
    })
    res.body.resume()
    return digestOf(bytes)
  }

  async listTags(repo: string): Promise<string[]> {
    const tags: string[] = []
    let next: string | undefined = `/v2/${repo}/tags/list`
    while (next) {
      const res = await this.request('GET', next, { scopes: [pullScope(repo)], ok: [200] })
      const body = JSON.parse((await readAll(res.body)).toString('utf8')) as { tags?: string[] | null }
      tags.push(...(body.tags ?? []))
      const link = header(res, 'link')
      next = link ? /<([^>]+)>/.exec(link)?.[1] : undefined
    }
    return tags
  }

  /** The v1 search API (Docker Hub's index has it; most registries answer 404, which is an error here as in Docker). */
  async search(term: string, limit: number): Promise<SearchResult[]> {
    const address = this.host.name === 'docker.io' ? 'index.docker.io' : this.host.address
    const scheme = this.host.insecure && this.host.name !== 'docker.io' ? (await this.#schemeOf()) : 'https'
    const url = new URL(`${scheme}://${address}/v1/search`)
    url.searchParams.set('q', term)
    url.searchParams.set('n', String(limit))
    let res: HttpResponse
    try {
      res = await this.#send('GET', url, {}, undefined)
    } catch (err) {
      throw new Error(`Get "${url.href}": ${describeNetError(err)}`, { cause: err })
    }
    const body = await readAll(res.body, 8 * 1024 * 1024)
    if (res.status !== 200) throw new CaisError(res.status === 404 ? 'not-found' : 'unavailable', `Unexpected status code ${res.status}`)
    return ((JSON.parse(body.toString('utf8')) as { results?: SearchResult[] }).results ?? []).slice(0, limit)
  }

  async #schemeOf(): Promise<string> {
    await this.ping()
    return this.#base!.protocol.replace(':', '')
  }

  #location(res: HttpResponse): URL {
    const loc = header(res, 'location')
    if (!loc) throw new Error('registry answered an upload without a Location header')
    return new URL(loc, this.#base)
  }

  async #authorization(scopes: string[], refresh: boolean, signal?: AbortSignal): Promise<string | undefined> {
    const c = this.#challenge
    if (!c) return undefined
    if (c.scheme === 'basic') return this.#creds ? basicAuth(this.#creds) : undefined
    if (this.#creds?.registryToken) return `Bearer ${this.#creds.registryToken}`
    const key = [...scopes].sort().join(' ')
    const cached = this.#tokens.get(key)
    if (cached && !refresh && cached.expires > Date.now()) return `Bearer ${cached.token}`
    const token = await this.#fetchToken(c, scopes, signal)
    this.#tokens.set(key, token)
    return `Bearer ${token.token}`
  }

  async #fetchToken(c: Challenge, scopes: string[], signal?: AbortSignal): Promise<{ token: string; expires: number }> {
    const realm = c.params['realm']
    if (!realm) throw new Error('registry asked for a bearer token without a realm')
    const url = new URL(realm)
    if (c.params['service']) url.searchParams.set('service', c.params['service'])
    for (const s of scopes) url.searchParams.append('scope', s)
    let res: HttpResponse
    const creds = this.#creds
    if (creds?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'cais' })
      if (c.params['service']) form.set('service', c.params['service'])
      if (scopes.length) form.set('scope', scopes.join(' '))
      res = await this.#send('POST', new URL(realm), { 'Content-Type': 'application/x-www-form-urlencoded' }, Buffer.from(form.toString()), signal)
    } else {
      const auth = creds ? basicAuth(creds) : undefined
      res = await this.#send('GET', url, auth ? { Authorization: auth } : {}, undefined, signal)
    }
    const body = await readAll(res.body, 1024 * 1024)
    if (res.status === 401 || res.status === 403) {
      throw new CaisError('unauthorized', `Get "${url.origin}${url.pathname}": unauthorized: incorrect username or password`)
    }
    if (res.status !== 200) throw new Error(`token server ${url.origin} answered ${res.status}`)
    const json = JSON.parse(body.toString('utf8')) as { token?: string; access_token?: string; expires_in?: number }
    const token = json.token ?? json.access_token
    if (!token) throw new Error(`token server ${url.origin} answered without a token`)
    // Docker's minimum lifetime is 60 s; refresh a little early.
    return { token, expires: Date.now() + Math.max(60, json.expires_in ?? 60) * 1000 - 10_000 }
  }

  async #sendFollowing(method: string, url: URL, headers: Record<string, string>, body: Buffer | Readable | undefined, signal?: AbortSignal): Promise<HttpResponse> {
    let current = url
    for (let hop = 0; ; hop++) {
      const res = await this.#send(method, current, headers, body, signal)
      if (!redirectStatuses.has(res.status) || (method !== 'GET' && method !== 'HEAD') || hop >= 5) return res
      const loc = header(res, 'location')
      if (!loc) return res
      res.body.resume()
      const next = new URL(loc, current)
      // Blob storage (S3 and the like) must not see the registry's credentials.
      if (next.origin !== current.origin) delete headers['Authorization']
      current = next
    }
  }

  #send(method: string, url: URL, headers: Record<string, string>, body: Buffer | Readable | undefined, signal?: AbortSignal): Promise<HttpResponse> {
    const sameRegistry = url.host === this.host.address
    const tls = { ...(sameRegistry ? this.host.tls : {}), verify: !(sameRegistry && this.host.insecure) }
    return send({ method, url, headers, ...(body !== undefined ? { body } : {}), tls, ...(signal ? { signal } : {}) })
  }
}

export const pullScope = (repo: string): string => `repository:${repo}:pull`
export const pushScope = (repo: string): string => `repository:${repo}:pull,push`

const header = (res: HttpResponse, name: string): string | undefined => {
  const v = res.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** Turns an error answer into Docker's wording: `<code in words>: <message>`. */
async function registryError(res: HttpResponse, method: string, url: URL): Promise<CaisError | Error> {
  const body = await readAll(res.body, 1024 * 1024).catch(() => Buffer.alloc(0))
  // Not an error body (an HTML page, nothing): the status line below says it.
  let text = decodeErrors(body).map(describeError).join('; ')
  if (res.status === 401) return new CaisError('unauthorized', text || 'unauthorized: authentication required')
  if (res.status === 403) return new CaisError('forbidden', text || 'denied: requested access to the resource is denied')
  if (!text) text = `${titleCase(method)} "${url.href}": unexpected status ${res.status}`
  if (res.status === 404) return notFound(text)
  return new Error(text)
}

function describeNetError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number }
  if (e.code === 'ECONNREFUSED') return `dial tcp ${e.address ?? ''}:${e.port ?? ''}: connect: connection refused`
  if (e.code === 'ECONNRESET') return 'connection reset by peer'
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `dial tcp: lookup ${(e as { hostname?: string }).hostname ?? ''}: no such host`
  return e.message ?? String(err)
}

const titleCase = (m: string): string => m[0]! + m.slice(1).toLowerCase()
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
