import type { Socket } from 'node:net'
import type { Duplex, Readable } from 'node:stream'
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

export interface Endpoint {
  socketPath: string
}

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

/** HTTP over the daemon's unix socket, a connection per request. Versioned paths (`/v1.50/...`) are the caller's choice. */
export class HttpTransport {
  readonly #endpoint: Endpoint
  readonly #prefix: string
  /** Connections still in use (streams being read among them), for close() to end. */
  readonly #open = new Set<Socket>()

  constructor(endpoint: Endpoint, apiVersion: string | undefined) {
    this.#endpoint = endpoint
    this.#prefix = apiVersion ? `/v${apiVersion}` : ''
  }

  close(): void {
    for (const socket of this.#open) socket.destroy()
  }

  #target(path: string, opts: RequestOptions): string {
    return this.#prefix + buildPath(path, opts.query)
  }

  /** Sends a request and returns the response without reading its body. Error statuses throw ApiError. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = { Host: apiHost, ...opts.headers }
    let body: string | undefined
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body)
      headers['Content-Type'] = 'application/json'
    } else if (opts.stream) {
      headers['Content-Type'] ??= 'application/x-tar'
    }
    const res = await exchange(this.#endpoint.socketPath, { method, path: this.#target(path, opts), headers, body, stream: opts.stream, signal: opts.signal }, this.#open).catch(
      (err: Error) => {
        throw connectionError(err, this.#endpoint)
      },
    )
    if (res.statusCode >= 400) throw await toApiError(res)
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
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body)
    const headers: Record<string, string> = { Host: apiHost, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) }
    const res = await exchange(this.#endpoint.socketPath, { method, path: this.#target(path, opts), headers, body, upgrade: true }, this.#open).catch(
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
    return new Error(`Cannot connect to the cais daemon at unix://${endpoint.socketPath}. Is the cais daemon running?`)
  }
  return err
}
