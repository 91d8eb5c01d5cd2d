import type * as Http from 'node:http'
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import type { Duplex, Readable } from 'node:stream'

// An ESM import of node:http evaluates all its exports, WebSocket among them, which loads undici: ~45 ms of every
// CLI start. require() leaves those getters alone.
const { Agent, request } = createRequire(import.meta.url)('node:http') as typeof Http

/**
 * The Host header Docker's client sends over a unix socket. Given (with an empty TLS server name), it also spares
 * node:http matching a host against its IP patterns, whose first use compiles them: ~5 ms of a CLI start.
 */
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

/** HTTP over the daemon's unix socket. Versioned paths (`/v1.50/...`) are the caller's choice. */
export class HttpTransport {
  readonly #endpoint: Endpoint
  readonly #agent = new Agent({ keepAlive: true })
  readonly #prefix: string

  constructor(endpoint: Endpoint, apiVersion: string | undefined) {
    this.#endpoint = endpoint
    this.#prefix = apiVersion ? `/v${apiVersion}` : ''
  }

  close(): void {
    this.#agent.destroy()
  }

  /** Where requests go; with no TLS server name to work out (node's agent would match the host against its IP patterns). */
  #socket(): Http.RequestOptions {
    // Through a variable: node's http typings leave `servername` (which its agent reads) to https.
    const options = { socketPath: this.#endpoint.socketPath, servername: '' }
    return options
  }

  /** Sends a request and returns the response without reading its body. Error statuses throw ApiError. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const headers: Record<string, string> = { Host: apiHost, ...opts.headers }
    let payload: string | undefined
    if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body)
      headers['Content-Type'] = 'application/json'
      headers['Content-Length'] = String(Buffer.byteLength(payload))
    } else if (opts.stream) {
      headers['Content-Type'] ??= 'application/x-tar'
    }
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        {
          ...this.#socket(),
          path: this.#prefix + buildPath(path, opts.query),
          method,
          headers,
          agent: this.#agent,
          signal: opts.signal,
        },
        resolve,
      )
      req.on('error', (err) => reject(connectionError(err, this.#endpoint)))
      if (opts.stream) {
        opts.stream.on('error', (err) => req.destroy(err))
        opts.stream.pipe(req)
      } else req.end(payload)
    })
    if (res.statusCode && res.statusCode >= 400) throw await toApiError(res)
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
    return res.statusCode ?? 0
  }

  /** Upgrades the connection (attach, exec start): resolves with the raw socket after `101`. */
  hijack(method: string, path: string, opts: RequestOptions = {}): Promise<{ socket: Duplex; head: Buffer; headers: IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body)
      const req = request({
        ...this.#socket(),
        path: this.#prefix + buildPath(path, opts.query),
        method,
        headers: {
          Host: apiHost,
          Connection: 'Upgrade',
          Upgrade: 'tcp',
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) } : {}),
        },
      })
      req.on('upgrade', (res, socket, head) => resolve({ socket, head, headers: res.headers }))
      req.on('response', (res) => {
        if ((res.statusCode ?? 0) >= 400) toApiError(res).then(reject, reject)
        else reject(new ApiError(res.statusCode ?? 0, `unexpected status ${res.statusCode} on hijack`))
      })
      req.on('error', (err) => reject(connectionError(err, this.#endpoint)))
      req.end(payload)
    })
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks)
}

async function toApiError(res: IncomingMessage): Promise<ApiError> {
  const text = (await readAll(res)).toString('utf8')
  let message = text.trim()
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message
  } catch {
    // not JSON: keep the text
  }
  return new ApiError(res.statusCode ?? 500, message || `HTTP ${res.statusCode}`)
}

function connectionError(err: Error & { code?: string }, endpoint: Endpoint): Error {
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
    return new Error(`Cannot connect to the cais daemon at unix://${endpoint.socketPath}. Is the cais daemon running?`)
  }
  return err
}
