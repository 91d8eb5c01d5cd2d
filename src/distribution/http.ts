import type { Agent, IncomingHttpHeaders, IncomingMessage } from 'node:http'
import https from 'node:https'
import type { Readable } from 'node:stream'
import { rootCertificates } from 'node:tls'
import { http } from '../lib/node-http.ts'

export interface HttpRequest {
  method: string
  url: URL
  headers?: Record<string, string>
  body?: Buffer | Readable
  tls?: { ca?: Buffer[]; cert?: Buffer; key?: Buffer; verify: boolean }
  signal?: AbortSignal
}

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: IncomingMessage
}

const agents = new Map<string, Agent>()

/** One keep-alive agent per scheme and TLS setting, so repeated blob requests reuse connections. */
function agentFor(req: HttpRequest): Agent {
  const secure = req.url.protocol === 'https:'
  const key = secure ? `https|${req.url.host}|${req.tls?.verify ?? true}` : 'http'
  let agent = agents.get(key)
  if (!agent) {
    agent = secure
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 8,
          rejectUnauthorized: req.tls?.verify ?? true,
          // Custom CAs add to the system's roots rather than replace them, as Docker's certs.d does.
          ...(req.tls?.ca ? { ca: [...rootCertificates, ...req.tls.ca] } : {}),
          ...(req.tls?.cert ? { cert: req.tls.cert } : {}),
          ...(req.tls?.key ? { key: req.tls.key } : {}),
        })
      : new http.Agent({ keepAlive: true, maxSockets: 8 })
    agents.set(key, agent)
  }
  return agent
}

/** A single HTTP exchange; the caller reads or drains `body`. Redirects are not followed here. */
export function send(req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const mod = req.url.protocol === 'https:' ? https : http
    const headers: Record<string, string> = { 'User-Agent': 'cais', ...req.headers }
    if (Buffer.isBuffer(req.body)) headers['Content-Length'] = String(req.body.length)
    const r = mod.request(req.url, { method: req.method, headers, agent: agentFor(req), ...(req.signal ? { signal: req.signal } : {}) }, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res })
    })
    r.on('error', reject)
    if (req.body === undefined) r.end()
    else if (Buffer.isBuffer(req.body)) r.end(req.body)
    else {
      req.body.on('error', (err) => r.destroy(err))
      req.body.pipe(r)
    }
  })
}

export async function readAll(body: Readable, limit = 32 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw new Error(`response larger than ${limit} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}
