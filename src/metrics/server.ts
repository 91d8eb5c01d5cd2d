import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { http } from '../lib/node-http.ts'

/**
 * `--metrics-addr HOST:PORT`: Prometheus text at GET /metrics, as dockerd's. Read-only, without authentication, as
 * dockerd's: keep it on loopback or behind a firewall.
 */
export async function serveMetrics(address: string, registry: Registry): Promise<{ server: Server; url: string }> {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]*):(\d+)$/.exec(address)
  if (!m) throw new Error(`invalid --metrics-addr ${address}: expected HOST:PORT`)
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n')
      return
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${(err as Error).message}\n`),
    )
  })
  const host = m[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(Number(m[2]), host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = server.address() as AddressInfo
  return { server, url: `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}/metrics` }
}
