import { scryptSync } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { readFile, stat } from 'node:fs/promises'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { dirname, extname, join, normalize, resolve, sep } from 'node:path'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { WebSocketServer } from 'ws'
import type { EngineClient } from '../client/engine-client.ts'
import { http } from '../lib/node-http.ts'
import { StatsHub, channels, failChannel } from './channels.ts'
import { type AlertRule, AlertEngine, defaultRules, parseRules } from './alerts.ts'
import { HistoryStore } from './history.ts'
import { type RouteContext, HttpError, readJsonBody, sendError, sendJson } from './http-util.ts'
import { Monitor } from './monitor.ts'
import { LayerIndexCache } from './layer-index.ts'
import { type Route, dashboardRoutes, monitoringRoutes } from './routes.ts'
import { type Session, Sessions, allowedHosts, isLoopback, isWildcard, sameOrigin, sameSecret, securityHeaders, sessionCookieHeader } from './security.ts'

export { parseListen } from './security.ts'

export interface DashboardOptions {
  client: EngineClient
  /** The engine it shows, as the page names it (`unix:///run/cais/cais.sock`, a context's name…). */
  engineName: string
  host: string
  port: number
  /** The built page (`index.html` and `assets/`). */
  assetsDir: string
  /** PEM. Required on a non-loopback address; with `ca`, clients must present a certificate it signed. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer } | undefined
  /** `scrypt:SALT:HASH` (hex), from `hashPassword`: a password opens a session too. */
  passwordHash?: string | undefined
  /** More Host names the dashboard answers to (a DNS name of a non-loopback listener). */
  extraHosts?: string[] | undefined
  layerCacheDir?: string | undefined
  /** Where the history rings and the alert history live (they survive restarts). */
  stateDir: string
  /** How often the monitor samples every running container (10 s). */
  sampleIntervalMs?: number | undefined
  alertRules?: AlertRule[] | undefined
  /** Where rules edited in the page are saved and read back (default: `alert-rules.json` in the state directory). */
  alertRulesFile?: string | undefined
  /** Alerts are POSTed here as JSON too. */
  alertWebhook?: string | undefined
  /** The dashboard's own failures (the monitor's, a webhook's): logged, never fatal. */
  onError?: ((err: unknown) => void) | undefined
  /** One line per mutating action, with who did it. */
  audit: (entry: Record<string, unknown>) => void
  /** The engines the page may switch to (the CLI's contexts); without it, the dashboard shows its one engine. */
  engines?: EngineDirectory | undefined
}

/** Engines by name, as the CLI knows them, for the page to switch between. */
export interface EngineDirectory {
  list(): Promise<Array<{ name: string; host: string; description: string }>>
  /** A client for one, the name the page shows, and where its history and alerts live. */
  open(name: string): Promise<{ client: EngineClient; engineName: string; stateDir: string }>
}

/** What the dashboard holds for the engine it shows; all of it is made again when the page switches engines. */
interface EngineParts {
  client: EngineClient
  name: string
  /** The directory entry it was opened as (`undefined`: the one the dashboard started with). */
  entry: string | undefined
  routes: Route[]
  history: HistoryStore
  alerts: AlertEngine
  monitor: Monitor
  statsHub: StatsHub
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
}

/** An scrypt hash of a password, for `--dashboard-password-file`. */
export function hashPassword(password: string, salt = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex')): string {
  return `scrypt:${salt}:${scryptSync(password, salt, 32).toString('hex')}`
}

function passwordMatches(password: string, hash: string): boolean {
  const [kind, salt, expected] = hash.trim().split(':')
  if (kind !== 'scrypt' || !salt || !expected) return false
  return sameSecret(scryptSync(password, salt, 32).toString('hex'), expected)
}

/**
 * The dashboard's HTTP server: the built page, REST routes and WebSocket channels over the typed client, behind
 * a session opened by a one-time token, a password or a client certificate.
 */
export class DashboardServer {
  readonly sessions = new Sessions()
  readonly #o: DashboardOptions
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 })
  #server: Server | undefined
  #hosts = new Set<string>()
  #engine: EngineParts

  constructor(opts: DashboardOptions) {
    if (!isLoopback(opts.host)) {
      if (!opts.tls) throw new Error(`the dashboard listens on ${opts.host}, which is not a loopback address, only with TLS: give a certificate and key`)
      if (!opts.tls.ca && !opts.passwordHash) {
        throw new Error(`the dashboard listens on ${opts.host}, which is not a loopback address, only with client certificates (a CA) or a password`)
      }
    }
    this.#o = opts
    this.#engine = this.#partsFor(opts.client, opts.engineName, opts.stateDir, undefined)
  }

  #partsFor(client: EngineClient, name: string, stateDir: string, entry: string | undefined): EngineParts {
    const o = this.#o
    const onError = o.onError ?? (() => undefined)
    const intervalMs = o.sampleIntervalMs ?? 10_000
    const history = new HistoryStore(join(stateDir, 'history'), { fineMs: intervalMs })
    const rulesFile = o.alertRulesFile ?? join(stateDir, 'alert-rules.json')
    let rules = o.alertRules ?? defaultRules
    if (existsSync(rulesFile)) {
      try {
        rules = parseRules(JSON.parse(readFileSync(rulesFile, 'utf8')))
      } catch (err) {
        onError(new Error(`alert rules in ${rulesFile} are not used: ${(err as Error).message}`))
      }
    }
    const alerts = new AlertEngine({ rules, rulesFile, dir: stateDir, webhook: o.alertWebhook, onWebhookError: onError })
    return {
      client,
      name,
      entry,
      history,
      alerts,
      statsHub: new StatsHub(client),
      monitor: new Monitor({ client, history, alerts, intervalMs, onError }),
      routes: [...dashboardRoutes(client, { name }, new LayerIndexCache(o.layerCacheDir)), ...monitoringRoutes(history, alerts)],
    }
  }

  /**
   * Shows another engine of the directory: the old one's monitor stops and its live channels close (pages
   * reconnect to the new one); its history stays in its own state directory for when it is shown again.
   */
  async #switchTo(entry: string): Promise<void> {
    const engines = this.#o.engines
    if (!engines) throw new HttpError(404, 'this dashboard shows one engine only')
    const { client, engineName, stateDir } = await engines.open(entry)
    await client.system.ping().catch((err: unknown) => {
      throw new HttpError(502, `engine ${entry} does not answer: ${(err as Error).message}`)
    })
    const old = this.#engine
    this.#engine = this.#partsFor(client, engineName, stateDir, entry)
    await old.monitor.stop()
    for (const ws of this.#wss.clients) ws.close(1012, 'engine switched')
    if (this.#server) this.#engine.monitor.start()
  }

  get #secure(): boolean {
    return this.#o.tls !== undefined
  }

  /** Listens; resolves with the URL to open (carrying the one-time token). */
  async start(): Promise<{ url: string; port: number }> {
    const tls = this.#o.tls
    const server = tls
      ? createHttpsServer({ cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}) })
      : http.createServer()
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.#request(req, res))
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head))
    await new Promise<void>((ok, fail) => {
      server.once('error', fail)
      server.listen(this.#o.port, this.#o.host, () => ok())
    })
    this.#server = server
    this.#engine.monitor.start()
    const port = (server.address() as AddressInfo).port
    this.#hosts = allowedHosts(this.#o.host, port, this.#o.extraHosts)
    const hostPart = isWildcard(this.#o.host) ? hostname() : this.#o.host.includes(':') ? `[${this.#o.host}]` : this.#o.host
    return { url: `${this.#secure ? 'https' : 'http'}://${hostPart}:${port}/?token=${this.sessions.token ?? ''}`, port }
  }

  async close(): Promise<void> {
    await this.#engine.monitor.stop()
    for (const ws of this.#wss.clients) ws.terminate()
    const server = this.#server
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  }

  #hostAllowed(req: IncomingMessage): boolean {
    return this.#hosts.has((req.headers.host ?? '').toLowerCase())
  }

  async #request(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(securityHeaders)) res.setHeader(k, v)
    if (this.#secure) res.setHeader('Strict-Transport-Security', 'max-age=31536000')
    try {
      if (!this.#hostAllowed(req)) throw new HttpError(403, 'host not allowed')
      const url = new URL(req.url ?? '/', 'http://dashboard')
      const method = req.method ?? 'GET'
      if (url.pathname === '/login' && method === 'POST') return await this.#login(req, res)
      let session = this.sessions.of(req)
      if (url.pathname === '/' && url.searchParams.has('token')) {
        session = this.sessions.redeem(url.searchParams.get('token') ?? '')
        if (!session) return this.#page(res, 401, 'This link was used already, or it is wrong. Run `cais dashboard` again for a new one.')
        res.writeHead(303, { Location: '/', 'Set-Cookie': sessionCookieHeader(session, this.#secure), 'Cache-Control': 'no-store' }).end()
        return
      }
      if (!session) session = this.#certificateSession(req, res)
      if (url.pathname.startsWith('/api/')) {
        if (!session) throw new HttpError(401, 'no session: open the URL that `cais dashboard` printed')
        return await this.#api(req, res, url, session)
      }
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed')
      if (!session) {
        if (this.#o.passwordHash) return this.#loginPage(res, 401)
        return this.#page(res, 401, 'Open the URL that `cais dashboard` printed: it carries a one-time token.')
      }
      await this.#asset(res, url.pathname)
    } catch (err) {
      sendError(res, err)
    }
  }

  /** A client certificate the server verified opens a session of its own (mutual TLS needs no token). */
  #certificateSession(req: IncomingMessage, res: ServerResponse): Session | undefined {
    const socket = req.socket as Partial<TLSSocket>
    if (!this.#o.tls?.ca || typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return undefined
    const subject = socket.getPeerCertificate().subject
    const session = this.sessions.open(`cert:${Object.entries(subject ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(',')}`)
    res.setHeader('Set-Cookie', sessionCookieHeader(session, true))
    return session
  }

  async #login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.#o.passwordHash) throw new HttpError(404, 'no password is set')
    if (!sameOrigin(req, this.#secure)) throw new HttpError(403, 'cross-origin request refused')
    const chunks: Buffer[] = []
    let size = 0
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length
      if (size > 4096) throw new HttpError(413, 'request body too large')
      chunks.push(c)
    }
    const password = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('password') ?? ''
    if (!passwordMatches(password, this.#o.passwordHash)) {
      this.#o.audit({ action: 'login refused', peer: req.socket.remoteAddress })
      return this.#loginPage(res, 401, 'Wrong password.')
    }
    const session = this.sessions.open('password')
    res.writeHead(303, { Location: '/', 'Set-Cookie': sessionCookieHeader(session, this.#secure), 'Cache-Control': 'no-store' }).end()
  }

  async #api(req: IncomingMessage, res: ServerResponse, url: URL, session: Session): Promise<void> {
    const method = req.method ?? 'GET'
    if (url.pathname === '/api/session' && method === 'GET') {
      return sendJson(res, 200, { csrf: session.csrf, identity: session.identity, engine: this.#engine.name, canSwitch: this.#o.engines !== undefined })
    }
    let params: string[] | undefined
    const route = [...this.#engine.routes, ...this.#engineRoutes()].find((r) => {
      if (r.method !== method) return false
      const m = r.pattern.exec(url.pathname)
      params = m?.slice(1)
      return m !== null
    })
    if (!route || !params) throw new HttpError(404, 'not found')
    if (route.mutating) {
      if (!sameOrigin(req, this.#secure)) throw new HttpError(403, 'cross-origin request refused')
      const csrf = req.headers['x-csrf-token']
      if (typeof csrf !== 'string' || !sameSecret(csrf, session.csrf)) throw new HttpError(403, 'missing or wrong CSRF token')
    }
    const ctx: RouteContext = { req, res, url, params }
    try {
      await route.handle(ctx)
    } catch (err) {
      sendError(res, err)
    } finally {
      if (route.mutating) this.#o.audit({ identity: session.identity, session: session.id.slice(0, 8), method, path: url.pathname, status: res.statusCode })
    }
  }

  /** The engine directory's routes: the engines there are (which one is shown), and a switch to another. */
  #engineRoutes(): Route[] {
    const engines = this.#o.engines
    if (!engines) return []
    return [
      {
        method: 'GET',
        pattern: /^\/api\/engines$/,
        mutating: false,
        handle: async ({ res }) => sendJson(res, 200, { current: this.#engine.entry ?? null, shown: this.#engine.name, engines: await engines.list() }),
      },
      {
        method: 'POST',
        pattern: /^\/api\/engines\/use$/,
        mutating: true,
        handle: async ({ req, res }) => {
          const body = await readJsonBody<{ name?: unknown }>(req)
          if (typeof body?.name !== 'string' || !body.name) throw new HttpError(400, 'name (an engine of the list) is required')
          await this.#switchTo(body.name)
          sendJson(res, 200, { shown: this.#engine.name })
        },
      },
    ]
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, message: string): void => {
      const body = JSON.stringify({ message })
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Forbidden'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
    }
    socket.on('error', () => socket.destroy())
    const url = new URL(req.url ?? '/', 'http://dashboard')
    if (!this.#hostAllowed(req)) return refuse(403, 'host not allowed')
    if (!sameOrigin(req, this.#secure)) return refuse(403, 'cross-origin request refused')
    const session = this.sessions.of(req)
    if (!session) return refuse(401, 'no session')
    const entry = channels[url.pathname]
    if (!entry) return refuse(404, 'no such channel')
    if (entry.mutating && !sameSecret(url.searchParams.get('csrf') ?? '', session.csrf)) return refuse(403, 'missing or wrong CSRF token')
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const audit = (action: string): void => this.#o.audit({ identity: session.identity, session: session.id.slice(0, 8), action })
      const { client, alerts, statsHub } = this.#engine
      entry.channel(ws, url, { client, alerts, statsHub, audit }).catch((err: unknown) => failChannel(ws, err))
    })
  }

  async #asset(res: ServerResponse, pathname: string): Promise<void> {
    const root = resolve(this.#o.assetsDir)
    const rel = pathname === '/' ? 'index.html' : normalize(decodeURIComponent(pathname)).replace(/^[/\\]+/, '')
    const file = join(root, rel)
    if (!file.startsWith(root + sep)) throw new HttpError(404, 'not found')
    const info = await stat(file).catch(() => undefined)
    if (!info?.isFile()) {
      if (pathname === '/') throw new HttpError(500, `the dashboard's page is not built (${root}): run scripts/setup.sh`)
      throw new HttpError(404, 'not found')
    }
    const body = await readFile(file)
    res.writeHead(200, {
      'Content-Type': contentTypes[extname(file)] ?? 'application/octet-stream',
      'Content-Length': body.length,
      // Built assets carry a hash in their names; the page itself is looked up again each time.
      'Cache-Control': rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-store',
    })
    res.end(body)
  }

  #page(res: ServerResponse, status: number, message: string): void {
    const body = `<!doctype html><meta charset="utf-8"><title>cais dashboard</title><body style="font:16px system-ui;margin:3em"><h1>cais dashboard</h1><p>${escapeHtml(message)}</p></body>`
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(body)
  }

  #loginPage(res: ServerResponse, status: number, message = ''): void {
    const body = `<!doctype html><meta charset="utf-8"><title>cais dashboard</title><body style="font:16px system-ui;margin:3em"><h1>cais dashboard</h1><p>${escapeHtml(message)}</p><form method="post" action="/login"><label>Password <input type="password" name="password" autofocus></label> <button>Sign in</button></form></body>`
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(body)
  }
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** Where the built page is: `dist/dashboard` of the cais checkout (or package) the running program comes from. */
export function defaultAssetsDir(): string {
  let dir = process.env['CAIS_INSTALL_DIR'] ?? dirname(resolve(process.argv[1] ?? '.'))
  for (let up = dir; ; up = dirname(up)) {
    if (existsSync(join(up, 'package.json')) && existsSync(join(up, 'dist', 'dashboard'))) {
      dir = up
      break
    }
    if (dirname(up) === up) break
  }
  return join(dir, 'dist', 'dashboard')
}
