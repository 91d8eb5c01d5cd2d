import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { hostname } from 'node:os'

/**
 * Who may use the dashboard. A one-time token (in the URL `cais dashboard` prints) becomes a session: an HttpOnly,
 * SameSite=Strict cookie, and a CSRF token the page sends back in a header on every mutating call. Requests must
 * name an allowed Host (a DNS-rebound name does not match), and mutating calls and WebSocket upgrades must come
 * from the dashboard's own origin.
 */
export interface Session {
  id: string
  csrf: string
  /** Who opened it, for the audit log: `token` or the client certificate's subject. */
  identity: string
  created: number
}

export const sessionCookie = 'cais_dashboard'
const maxSessions = 1000

export class Sessions {
  readonly #sessions = new Map<string, Session>()
  #token: string | undefined

  constructor(token: string = randomBytes(24).toString('base64url')) {
    this.#token = token
  }

  /** The one-time token, until it has been used. */
  get token(): string | undefined {
    return this.#token
  }

  /** Trades the one-time token for a session; undefined when it is wrong or already used. */
  redeem(token: string, identity = 'token'): Session | undefined {
    if (this.#token === undefined || !sameSecret(token, this.#token)) return undefined
    this.#token = undefined
    return this.open(identity)
  }

  /** A new session (after a password or a client certificate proved who it is). */
  open(identity: string): Session {
    const session: Session = { id: randomBytes(24).toString('base64url'), csrf: randomBytes(24).toString('base64url'), identity, created: Date.now() }
    this.#sessions.set(session.id, session)
    // Bounded: a client certificate opens a session per cookie-less request (a script): the oldest go first.
    if (this.#sessions.size > maxSessions) this.#sessions.delete(this.#sessions.keys().next().value!)
    return session
  }

  /** The session a request's cookie names. */
  of(req: IncomingMessage): Session | undefined {
    const id = cookies(req.headers.cookie)[sessionCookie]
    return id === undefined ? undefined : this.#sessions.get(id)
  }
}

/** Compares secrets in constant time. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

export function cookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
  }
  return out
}

export const sessionCookieHeader = (session: Session, secure: boolean): string =>
  `${sessionCookie}=${session.id}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`

/**
 * Host names a request may carry: the listener's own address, loopback names for a loopback listener, and those
 * the operator added. Anything else is a page on another name resolving to this address (DNS rebinding).
 */
export function allowedHosts(address: string, port: number, extra: string[] = []): Set<string> {
  const names = new Set<string>([address.includes(':') ? `[${address}]` : address, ...extra])
  // A wildcard listener is reached by the machine's name (others with --allow-host).
  if (isWildcard(address)) names.add(hostname())
  if (isLoopback(address)) for (const n of ['localhost', '127.0.0.1', '[::1]']) names.add(n)
  return new Set([...names].map((n) => `${n}:${port}`.toLowerCase()))
}

/** `HOST:PORT`, `[V6]:PORT` or `:PORT` (loopback). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value)
  if (!m) throw new Error(`invalid dashboard address "${value}": expected HOST:PORT`)
  const port = Number(m[3])
  if (port > 65535) throw new Error(`invalid dashboard port ${port}`)
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port }
}

export const isWildcard = (address: string): boolean => address === '0.0.0.0' || address === '::' || address === ''

export function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\.\d+\.\d+\.\d+$/.test(address)
}

/** The request's origin is the dashboard's own: the scheme and the Host it was reached at. */
export function sameOrigin(req: IncomingMessage, secure: boolean): boolean {
  const origin = req.headers.origin
  return origin !== undefined && origin.toLowerCase() === `${secure ? 'https' : 'http'}://${(req.headers.host ?? '').toLowerCase()}`
}

/**
 * Headers on every response. Scripts only from the dashboard itself; styles may be inline because the terminal
 * and the charts set theirs from script.
 */
export const securityHeaders: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
}
