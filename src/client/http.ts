import type { Duplex, Readable } from 'node:stream'
import { compareVersions } from '../lib/versions.ts'
import type { Endpoint } from './endpoint.ts'
import { type HttpResponse, type ResponseHeaders, exchange } from './http-exchange.ts'

export type { HttpResponse, ResponseHeaders } from './http-exchange.ts'

/** The Host header Docker's client sends over a unix socket. */
const apiHost = 'api.moby.localhost'

/** An error answer from the daemon: its status and Docker's `message`. */
export class ApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
    this.name = 'ApiError'
  }
}

export type { Endpoint } from './endpoint.ts'

export interface RequestOptions {
  query?: Record<string, string | number | boolean | string[] | undefined> | undefined
  body?: unknown
  /** A stream sent as the body as it is (tar uploads). */
  stream?: Readable | undefined
  headers?: Record<string, string> | undefined
  signal?: AbortSignal | undefined
}

export function buildPath(path: string, query: RequestOptions['query']): string {
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue
    if (Array.isArray(v)) for (const x of v) qs.append(k, x)
    else qs.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v))
  }
  const s = qs.toString()
  return s ? `${path}?${s}` : path
}

/** The newest Engine API version this client speaks. */
export const clientApiVersion = '1.50'

/** Docker's answer to a version newer than the daemon's: the daemon's own newest is in it. */
const tooNew = /client version \S+ is too new\. Maximum supported API version is (\d+\.\d+)/

/** Whether API version `a` is older than `b`. */
export const versionLess = (a: string, b: string): boolean => compareVersions(a, b) < 0

/**
 * HTTP over the daemon's unix socket, a connection per request. Versioned paths (`/v1.50/...`) are the caller's
 * choice: a version given (or `DOCKER_API_VERSION`) is spoken as it is; otherwise the transport negotiates as
 * the docker CLI does, speaking the lower of its own version and the daemon's. The daemon's is learnt at no
 * extra round trip where it can be: a request goes out at the client's version, and a daemon that answers
 * "too new" gets it again at the version it names. Only a first request whose body cannot be sent twice (an
 * upload) or that upgrades the connection asks `/_ping` first.
 */
export class HttpTransport {
  readonly #endpoint: Endpoint
  #version: string | undefined
  /** The version is settled: given by the caller, or learnt from the daemon. */
  #settled: boolean
  /** The version may be lowered to the daemon's (it was not given by the caller). */
  readonly #negotiates: boolean
  /** Connections still in use (streams being read among them), for close() to end. */
  readonly #open = new Set<Duplex>()

  constructor(endpoint: Endpoint, apiVersion: string | undefined, opts: { negotiate?: boolean } = {}) {
    this.#endpoint = endpoint
    this.#version = apiVersion
    this.#settled = apiVersion === undefined || opts.negotiate === false
    this.#negotiates = !this.#settled
  }

  /** A raw connection to the daemon (`system dial-stdio` relays one). */
  dial(): Duplex {
    return this.#endpoint.dial()
  }

  /** The daemon's address as given (`unix:///run/cais/cais.sock`, `tcp://…`, `ssh://…`). */
  get host(): string {
    return this.#endpoint.host
  }

  /** The API version requests are sent at (undefined: unversioned paths). */
  get version(): string | undefined {
    return this.#version
  }

  close(): void {
    for (const socket of this.#open) socket.destroy()
  }

  #target(path: string, opts: RequestOptions): string {
    return (this.#version ? `/v${this.#version}` : '') + buildPath(path, opts.query)
  }

  /** Settles the version with the daemon's `API-Version` (from `/_ping`), the lower of the two. */
  async negotiate(): Promise<void> {
    if (this.#settled) return
    const res = await exchange(this.#endpoint.dial, { method: 'GET', path: '/_ping', headers: { Host: apiHost } }, this.#open).catch((err: Error) => {
      throw connectionError(err, this.#endpoint)
    })
    res.resume()
    this.#adopt(res.headers['api-version'])
  }

  #adopt(daemonVersion: string | undefined): void {
    this.#settled = true
    if (daemonVersion && /^\d+\.\d+$/.test(daemonVersion) && this.#version && versionLess(daemonVersion, this.#version)) this.#version = daemonVersion
  }

  /** Sends a request and returns the response without reading its body. Error statuses throw ApiError. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    if (!this.#settled && opts.stream) await this.negotiate()
    const headers: Record<string, string> = { Host: apiHost, ...opts.headers }
    let body: string | undefined
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body)
      headers['Content-Type'] = 'application/json'
    } else if (opts.stream) {
      headers['Content-Type'] ??= 'application/x-tar'
    }
    const sentAt = this.#version
    const res = await exchange(this.#endpoint.dial, { method, path: this.#target(path, opts), headers, body, stream: opts.stream, signal: opts.signal }, this.#open).catch(
      (err: Error) => {
        throw connectionError(err, this.#endpoint)
      },
    )
    if (res.statusCode >= 400) {
      const err = await toApiError(res)
      // Learnt from the answer, unless the version was given: requests sent at once before any answer all learn it.
      const newest = this.#negotiates ? tooNew.exec(err.message)?.[1] : undefined
      if (err.status === 400 && newest && sentAt && versionLess(newest, sentAt)) {
        this.#adopt(newest)
        return this.send(method, path, opts)
      }
      throw err
    }
    if (!this.#settled) this.#adopt(res.headers['api-version'])
    return res
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts)
    const text = await readAll(res)
    return (text.length > 0 ? JSON.parse(text.toString('utf8')) : undefined) as T
  }

  async empty(method: string, path: string, opts: RequestOptions = {}): Promise<number> {
    const res = await this.send(method, path, opts)
    res.resume()
    return res.statusCode
  }

  /** Upgrades the connection (attach, exec start): resolves with the raw socket after `101`. */
  async hijack(method: string, path: string, opts: RequestOptions = {}): Promise<{ socket: Duplex; head: Buffer; headers: ResponseHeaders }> {
    await this.negotiate()
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body)
    const headers: Record<string, string> = { Host: apiHost, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) }
    const res = await exchange(this.#endpoint.dial, { method, path: this.#target(path, opts), headers, body, upgrade: true }, this.#open).catch(
      (err: Error) => {
        throw connectionError(err, this.#endpoint)
      },
    )
    if (res.upgraded) return { socket: res.socket, head: res.head, headers: res.headers }
    if (res.statusCode >= 400) throw await toApiError(res)
    res.destroy()
    throw new ApiError(res.statusCode, `unexpected status ${res.statusCode} on hijack`)
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks)
}

async function toApiError(res: HttpResponse): Promise<ApiError> {
  const text = (await readAll(res)).toString('utf8')
  let message = text.trim()
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message
  } catch {
    // not JSON: keep the text
  }
  return new ApiError(res.statusCode, message || `HTTP ${res.statusCode}`)
}

function connectionError(err: Error & { code?: string }, endpoint: Endpoint): Error {
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
    return new Error(`Cannot connect to the cais daemon at ${endpoint.host}. Is the cais daemon running?`)
  }
  return err
}
