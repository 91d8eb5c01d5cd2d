import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import type { Digest } from '../content/digest.ts'
import { encodeErrors } from '../distribution/errors.ts'
import { RegistryError } from './errors.ts'
import type { UpstreamCache } from './proxy.ts'
import type { RegistryStorage } from './storage.ts'

/** One request as the handlers see it. */
export interface Ctx {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  proxy?: UpstreamCache | undefined
}

export function fail(res: ServerResponse, err: unknown): void {
  const e = err instanceof RegistryError ? err : new RegistryError('UNSUPPORTED', 'internal error', undefined, 500)
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = encodeErrors({ code: e.status === 500 ? 'UNKNOWN' : e.code, message: e.message, detail: e.detail })
  // A 416 tells the client where the upload stands (Range, Location), so it can resume.
  const extra = (err as { headers?: Record<string, string> }).headers ?? {}
  res.writeHead(e.status, { ...extra, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body)
}

export function send(res: ServerResponse, status: number, headers: Record<string, string | number> = {}, body?: string | Buffer): void {
  res.writeHead(status, { 'Content-Length': body === undefined ? 0 : Buffer.byteLength(body), ...headers })
  res.end(body)
}

export async function readAll(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length
    if (size > limit) throw new RegistryError('SIZE_INVALID', 'payload too large', { limit }, 413)
    chunks.push(c)
  }
  return Buffer.concat(chunks)
}

/** `n`/`last` pagination with a `Link` header to the next page, as tags and the catalog have it. */
export function paginate({ res, url }: Ctx, key: 'tags' | 'repositories', all: string[], repo?: string): void {
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

/** A blob (or a range of it) as the body of a response whose head is written, then the end of the response. */
export async function sendBlobBody(res: ServerResponse, storage: RegistryStorage, digest: Digest, range?: { start: number; end: number }): Promise<void> {
  if (!storage.sendBlob) return pipeline(storage.openBlob(digest, range), res)
  await storage.sendBlob(digest, res, range)
  res.end()
}
