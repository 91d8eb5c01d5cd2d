import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiError } from '../client/http.ts'

/** What a dashboard route handler gets. */
export interface RouteContext {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  params: string[]
}

export class HttpError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
  res.end(body)
}

/** An engine's error keeps its status and message; anything else is the dashboard's own 500. */
export function sendError(res: ServerResponse, err: unknown): void {
  const status = err instanceof ApiError || err instanceof HttpError ? err.status : 500
  const message = err instanceof Error ? err.message : String(err)
  if (res.headersSent) {
    res.destroy()
    return
  }
  sendJson(res, status, { message })
}

/** A JSON request body of at most `limit` bytes. */
export async function readJsonBody<T>(req: IncomingMessage, limit = 64 * 1024): Promise<T | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length
    if (size > limit) throw new HttpError(413, 'request body too large')
    chunks.push(c)
  }
  if (size === 0) return undefined
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T
  } catch {
    throw new HttpError(400, 'invalid JSON body')
  }
}
