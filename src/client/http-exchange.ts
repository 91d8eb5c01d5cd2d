import { type Duplex, Readable } from 'node:stream'

/** Opens a new connection to the daemon: a unix socket, TCP (with TLS), or an ssh session's stdio. */
export type Dial = () => Duplex

/**
 * One HTTP/1.1 request and its response over a new connection to the daemon, `Connection: close`.
 *
 * The client's own, rather than node:http's: loading node:http and making its first request costs a CLI start
 * ~9 ms, a sixth of a `cais ps`. What the Engine API needs is small: a JSON or streamed (chunked) body, a response
 * framed by Content-Length, chunked encoding or the end of the connection, and the upgrade of attach and exec.
 */
export interface ExchangeRequest {
  method: string
  /** The request target: path and query. */
  path: string
  /** Header names as sent; Connection (Content-Length or Transfer-Encoding for a body, Host if missing) are added here. */
  headers: Record<string, string>
  body?: string | undefined
  /** A body of unknown length, sent chunked. */
  stream?: Readable | undefined
  signal?: AbortSignal | undefined
  /** Asks for `Upgrade: tcp`: a `101` answer resolves with the raw connection. */
  upgrade?: boolean
}

/** Response headers by lower-case name; repeated ones joined by ", " (as node:http does). */
export type ResponseHeaders = Record<string, string>

export interface Upgraded {
  upgraded: true
  statusCode: 101
  headers: ResponseHeaders
  socket: Duplex
  /** What the server sent after the response head, before the caller listened. */
  head: Buffer
}

const maxHeadBytes = 64 * 1024

/** `open` holds the connection while it is the exchange's (not after an upgrade hands it over), for the caller to end. */
export function exchange(dial: Dial, req: ExchangeRequest & { upgrade: true }, open?: Set<Duplex>): Promise<HttpResponse | Upgraded>
export function exchange(dial: Dial, req: ExchangeRequest & { upgrade?: false }, open?: Set<Duplex>): Promise<HttpResponse>
export function exchange(dial: Dial, req: ExchangeRequest, open?: Set<Duplex>): Promise<HttpResponse | Upgraded> {
  return new Promise((resolve, reject) => {
    if (req.signal?.aborted) {
      reject(abortError())
      return
    }
    let socket: Duplex
    try {
      socket = dial()
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)))
      return
    }
    open?.add(socket)
    let response: HttpResponse | undefined
    let settled = false
    const fail = (err: Error): void => {
      if (!settled) {
        settled = true
        reject(err)
      }
      socket.destroy()
    }
    const onAbort = (): void => {
      if (response) response.destroy(abortError())
      else fail(abortError())
    }
    const onClose = (): void => {
      open?.delete(socket)
      req.signal?.removeEventListener('abort', onAbort)
    }
    const onError = (err: Error): void => {
      if (response) response.destroy(err)
      else fail(err)
    }
    req.signal?.addEventListener('abort', onAbort, { once: true })
    socket.once('close', onClose)
    socket.on('error', onError)

    let buffered: Buffer = Buffer.alloc(0)
    const onHeadData = (chunk: Buffer): void => {
      buffered = buffered.length > 0 ? Buffer.concat([buffered, chunk]) : chunk
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end < 0) {
          if (buffered.length > maxHeadBytes) fail(new Error('the response head is too large'))
          return
        }
        const head = parseHead(buffered.subarray(0, end).toString('latin1'))
        const rest = buffered.subarray(end + 4)
        if (!head) {
          fail(new Error('malformed HTTP response'))
          return
        }
        // An interim answer (100 Continue): the real one follows.
        if (head.statusCode >= 100 && head.statusCode < 200 && head.statusCode !== 101) {
          buffered = rest
          continue
        }
        socket.off('data', onHeadData)
        socket.off('end', onEarlyEnd)
        settled = true
        if (head.statusCode === 101 && req.upgrade) {
          // The connection is the caller's now, its errors too (as node:http hands over an upgraded socket).
          socket.pause()
          socket.off('error', onError)
          socket.off('close', onClose)
          onClose()
          resolve({ upgraded: true, statusCode: 101, headers: head.headers, socket, head: rest })
          return
        }
        response = new HttpResponse(head.statusCode, head.headers, socket, framingOf(req.method, head.statusCode, head.headers), rest)
        resolve(response)
        return
      }
    }
    const onEarlyEnd = (): void => fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
    socket.on('data', onHeadData)
    socket.once('end', onEarlyEnd)

    // HTTP/1.1 requires a Host header, node:http's server enforces it.
    const headers: Record<string, string> = { Host: 'localhost', ...req.headers, Connection: req.upgrade ? 'Upgrade' : 'close' }
    if (req.upgrade) headers['Upgrade'] = 'tcp'
    if (req.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(req.body))
    else if (req.stream) headers['Transfer-Encoding'] = 'chunked'
    else if (req.method !== 'GET' && req.method !== 'HEAD') headers['Content-Length'] = '0'
    let text = `${req.method} ${req.path} HTTP/1.1\r\n`
    for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`
    text += '\r\n'
    socket.write(req.body ? text + req.body : text)
    if (req.stream) sendChunked(req.stream, socket, fail)
  })
}

/** Streams a body with chunked transfer encoding, at the pace the connection takes it. */
function sendChunked(stream: Readable, socket: Duplex, fail: (err: Error) => void): void {
  stream.on('data', (chunk: Buffer | string) => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    if (data.length === 0) return
    socket.write(`${data.length.toString(16)}\r\n`)
    socket.write(data)
    if (!socket.write('\r\n')) stream.pause()
  })
  socket.on('drain', () => stream.resume())
  stream.once('end', () => socket.write('0\r\n\r\n'))
  stream.once('error', fail)
  socket.once('close', () => stream.destroy())
}

function parseHead(text: string): { statusCode: number; headers: ResponseHeaders } | undefined {
  const lines = text.split('\r\n')
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')
  if (!status) return undefined
  const headers: ResponseHeaders = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value
  }
  return { statusCode: Number(status[1]), headers }
}

type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' }

function framingOf(method: string, statusCode: number, headers: ResponseHeaders): Framing {
  if (method === 'HEAD' || statusCode === 204 || statusCode === 304) return { kind: 'none' }
  if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) return { kind: 'chunked' }
  const length = headers['content-length']
  if (length !== undefined && /^\d+$/.test(length)) return Number(length) === 0 ? { kind: 'none' } : { kind: 'length', length: Number(length) }
  return { kind: 'close' }
}

/** A response: its status and headers, and its body as a stream (decoded from its framing). */
export class HttpResponse extends Readable {
  readonly upgraded = false
  readonly statusCode: number
  readonly headers: ResponseHeaders
  readonly #socket: Duplex
  readonly #framing: Framing
  /** Body bytes still to come (Content-Length framing), or of the current chunk (chunked). */
  #remaining = 0
  /** Chunked framing: where the decoder is, and the bytes of a size line or trailer not complete yet. */
  #chunkState: 'size' | 'data' | 'data-end' | 'trailer' = 'size'
  #pending: Buffer = Buffer.alloc(0)
  #complete = false

  constructor(statusCode: number, headers: ResponseHeaders, socket: Duplex, framing: Framing, first: Buffer) {
    super()
    this.statusCode = statusCode
    this.headers = headers
    this.#socket = socket
    this.#framing = framing
    if (framing.kind === 'length') this.#remaining = framing.length
    if (framing.kind === 'none') {
      this.#finish()
      return
    }
    socket.on('data', (chunk: Buffer) => this.#feed(chunk))
    socket.once('end', () => {
      if (this.#framing.kind === 'close') this.#finish()
    })
    // Closed before the body's end (the server went, or close() or an abort destroyed the connection).
    socket.once('close', () => {
      if (!this.#complete) this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
    })
    if (first.length > 0) this.#feed(first)
  }

  override _read(): void {
    this.#socket.resume()
  }

  /** As node:http's responses: the error is emitted only to a listener (a reader); with none it would crash. */
  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#socket.destroy()
    callback(this.listenerCount('error') > 0 ? err : null)
  }

  #finish(): void {
    if (this.#complete) return
    this.#complete = true
    this.push(null)
    this.#socket.destroy()
  }

  #deliver(data: Buffer): void {
    if (data.length > 0 && !this.push(data)) this.#socket.pause()
  }

  #feed(chunk: Buffer): void {
    if (this.#complete) return
    const framing = this.#framing
    if (framing.kind === 'close') this.#deliver(chunk)
    else if (framing.kind === 'length') {
      const take = chunk.subarray(0, this.#remaining)
      this.#remaining -= take.length
      this.#deliver(take)
      if (this.#remaining === 0) this.#finish()
    } else if (framing.kind === 'chunked') this.#feedChunked(chunk)
  }

  #feedChunked(chunk: Buffer): void {
    let data: Buffer = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk
    this.#pending = Buffer.alloc(0)
    while (data.length > 0 && !this.#complete) {
      if (this.#chunkState === 'data') {
        const take = data.subarray(0, this.#remaining)
        this.#remaining -= take.length
        data = data.subarray(take.length)
        this.#deliver(take)
        if (this.#remaining === 0) this.#chunkState = 'data-end'
        continue
      }
      const eol = data.indexOf('\r\n')
      if (eol < 0) {
        this.#pending = data
        return
      }
      const line = data.subarray(0, eol).toString('latin1')
      data = data.subarray(eol + 2)
      if (this.#chunkState === 'data-end') this.#chunkState = 'size'
      else if (this.#chunkState === 'size') {
        const size = Number.parseInt(line.split(';')[0]!.trim(), 16)
        if (Number.isNaN(size)) {
          this.destroy(new Error(`malformed chunk size ${JSON.stringify(line)}`))
          return
        }
        this.#remaining = size
        this.#chunkState = size === 0 ? 'trailer' : 'data'
      } else if (line === '') this.#finish() // the empty line that ends the trailer
    }
  }
}

function abortError(): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' })
}
