import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Duplex, PassThrough, type Readable } from 'node:stream'
import { invalid, messageOf } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { compareVersions } from './versions.ts'

/** What a handler gets: the request, its path params and query, the API version asked for, and a way to answer. */
export interface RequestContext {
  req: IncomingMessage
  /** Undefined for hijacked (Upgrade) requests, which answer on `socket`. */
  res: ServerResponse | undefined
  /** Present for Upgrade requests: the raw connection and the bytes read past the headers. */
  upgrade: { socket: Duplex; head: Buffer } | undefined
  params: Record<string, string>
  query: URLSearchParams
  version: string
  log: Logger
  /** Aborted when the client goes away. */
  signal: AbortSignal
}

export function versionAtLeast(ctx: RequestContext, v: string): boolean {
  return compareVersions(ctx.version, v) >= 0
}

/** Docker's boolean query values: "", 0, no, false, none are false; anything else true. */
export function queryBool(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name)
  if (v === null) return dflt
  return !['', '0', 'no', 'false', 'none'].includes(v.toLowerCase())
}

export function queryInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name)
  if (v === null || v === '') return undefined
  if (!/^-?\d+$/.test(v)) throw invalid(`invalid value for ${name}: ${JSON.stringify(v)}`)
  return Number(v)
}

/**
 * The request body as a stream of its own, for a consumer that may destroy it (a pipeline that fails on a bad
 * upload): the request itself stays whole, so the server can take the rest of it and still send the refusal.
 * Its errors reach the consumer's own listeners; the one here only keeps an error after they are gone from
 * crashing the daemon.
 */
export function bodyStream(req: IncomingMessage): Readable {
  const body = new PassThrough()
  body.on('error', () => {})
  req.pipe(body)
  return body
}

export async function readBody(req: IncomingMessage, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw invalid('request body too large')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** A JSON request body's limits: no Engine API body comes near them; a hostile one stops here, as a 400. */
export const jsonLimits = { maxBytes: 16 * 1024 * 1024, maxDepth: 64 }

/** Parses a JSON body; an empty body is `undefined`, malformed, too large or too deeply nested JSON a 400. */
export async function readJson<T>(req: IncomingMessage): Promise<T | undefined> {
  const body = await readBody(req, jsonLimits.maxBytes)
  if (body.length === 0) return undefined
  const text = body.toString('utf8')
  if (nestingDepth(text) > jsonLimits.maxDepth) throw invalid(`invalid JSON: nested deeper than ${jsonLimits.maxDepth} levels`)
  try {
    return JSON.parse(text) as T
  } catch (err) {
    throw invalid(`invalid JSON: ${(err as Error).message}`, err)
  }
}

/** How deeply arrays and objects nest in a JSON text (strings skipped), in one pass before parsing it. */
export function nestingDepth(text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth)
    else if (c === 0x7d || c === 0x5d) depth--
  }
  return max
}

export function sendJson(ctx: RequestContext, status: number, body: unknown): void {
  const res = ctx.res!
  const data = Buffer.from(JSON.stringify(body))
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length })
  res.end(data)
}

export function sendStatus(ctx: RequestContext, status: number): void {
  ctx.res!.writeHead(status)
  ctx.res!.end()
}

/** Starts an NDJSON stream (chunked, flushed at once); write one whole object per call. */
export function startJsonStream(ctx: RequestContext): (obj: unknown) => void {
  const res = ctx.res!
  res.writeHead(200, { 'Content-Type': 'application/json' })
  res.flushHeaders()
  return (obj) => {
    res.write(JSON.stringify(obj) + '\n')
  }
}

/**
 * A progress stream that starts (200, NDJSON) on its first message. An error before that still gets its own
 * HTTP status; after it, the error goes into the stream as Docker's `errorDetail` line.
 */
export class ProgressStream {
  readonly #ctx: RequestContext
  #write: ((obj: unknown) => void) | undefined

  constructor(ctx: RequestContext) {
    this.#ctx = ctx
  }

  get started(): boolean {
    return this.#write !== undefined
  }

  /** Answers 200 now, before any message: what goes wrong from here is an error in the stream. */
  begin(): void {
    this.#write ??= startJsonStream(this.#ctx)
  }

  send = (obj: unknown): void => {
    this.#write ??= startJsonStream(this.#ctx)
    this.#write(obj)
  }

  /** Runs the work; answers its error in the stream once started, else lets the error handler answer it. */
  async run(work: () => Promise<void>): Promise<void> {
    try {
      await work()
    } catch (err) {
      if (!this.started) throw err
      const message = messageOf(err)
      // A build step's exit code travels as the error's code; the docker CLI exits with it.
      const code = (err as { exitCode?: unknown } | null)?.exitCode
      this.#write!({ errorDetail: { ...(typeof code === 'number' ? { code } : {}), message }, error: message })
    }
    this.#ctx.res!.end()
  }
}

/**
 * The rest of a request body a handler refused part-way (an upload found bad as it came in), read and dropped
 * before the answer, for at most 5 s. The client sent `Connection: close`, so the connection closes after the
 * answer: a client still sending would meet the closed connection on its next write and, in Node, lose the
 * answer with it.
 */
export async function takeRestOfBody(req: IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      req.off('end', done)
      req.off('close', done)
      req.off('error', done)
      resolve()
    }
    const timer = setTimeout(done, 5000)
    req.once('end', done)
    req.once('close', done)
    req.once('error', done)
    req.resume()
  })
}
