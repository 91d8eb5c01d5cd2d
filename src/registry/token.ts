import { type KeyObject, X509Certificate, createSign, createVerify, randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AccessRule, Action, Authorizer } from './auth.ts'
import { encodeErrors } from '../distribution/errors.ts'
import { RegistryError } from './errors.ts'
import { type HtpasswdUsers, allowedBy } from './htpasswd.ts'

/** The token settings, as distribution names them. */
export interface TokenSettings {
  realm: string
  service: string
  issuer: string
  /** Certificates whose keys may sign tokens (the issuer's, or those its x5c chain leads to). */
  rootCerts: X509Certificate[]
}

interface Claims {
  iss?: string
  aud?: string | string[]
  exp?: number
  nbf?: number
  sub?: string
  access?: Array<{ type: string; name: string; actions: string[] }>
}

const SKEW_S = 60

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')

/**
 * Bearer tokens as distribution's token auth: a JWT signed (RS256 or ES256) by a key of the root bundle, or by a
 * certificate in its `x5c` that one of them signed, issued for this service, in date, whose `access` grants the
 * action. Anything less is a 401 whose challenge names the scope to ask the issuer for.
 */
export function tokenAuthorizer(t: TokenSettings): Authorizer {
  const challenge = (repo: string | undefined, action: Action, error?: string): RegistryError => {
    const scope = repo ? `,scope="repository:${repo}:${action === 'pull' ? 'pull' : action === 'delete' ? 'delete' : 'pull,push'}"` : ''
    return Object.assign(new RegistryError('UNAUTHORIZED', 'authentication required', null), {
      headers: { 'WWW-Authenticate': `Bearer realm="${t.realm}",service="${t.service}"${scope}${error ? `,error="${error}"` : ''}` },
    })
  }
  return {
    async check(req, repo, action) {
      const header = req.headers.authorization ?? ''
      if (!header.startsWith('Bearer ')) throw challenge(repo, action)
      const claims = verifyJwt(header.slice(7), t.rootCerts)
      const now = Date.now() / 1000
      const audience = Array.isArray(claims?.aud) ? claims.aud : [claims?.aud]
      if (!claims || claims.iss !== t.issuer || !audience.includes(t.service) || (claims.exp ?? 0) < now - SKEW_S || (claims.nbf ?? 0) > now + SKEW_S) {
        throw challenge(repo, action, 'invalid_token')
      }
      if (repo !== undefined && !(claims.access ?? []).some((a) => a.type === 'repository' && a.name === repo && (a.actions.includes(action) || a.actions.includes('*')))) {
        throw challenge(repo, action, 'insufficient_scope')
      }
      return claims.sub ?? ''
    },
  }
}

function verifyJwt(token: string, roots: X509Certificate[]): Claims | undefined {
  const [h, c, s] = token.split('.')
  if (!h || !c || !s) return undefined
  let header: { alg?: string; x5c?: string[] }
  let claims: Claims
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as typeof header
    claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Claims
  } catch {
    return undefined
  }
  const algorithm = header.alg === 'RS256' ? 'RSA-SHA256' : header.alg === 'ES256' ? 'SHA256' : undefined
  if (!algorithm) return undefined
  let keys: KeyObject[] = roots.map((r) => r.publicKey)
  if (header.x5c?.[0]) {
    try {
      const leaf = new X509Certificate(Buffer.from(header.x5c[0], 'base64'))
      const trusted = roots.some((r) => r.fingerprint256 === leaf.fingerprint256 || (leaf.checkIssued(r) && leaf.verify(r.publicKey)))
      if (!trusted) return undefined
      keys = [leaf.publicKey]
    } catch {
      return undefined
    }
  }
  const signature = Buffer.from(s, 'base64url')
  const ok = keys.some((key) => createVerify(algorithm).update(`${h}.${c}`).verify(header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, signature))
  return ok ? claims : undefined
}

/**
 * The built-in token issuer (`GET /token`), so that one process can serve a team: Basic credentials from the htpasswd
 * file in, a token out granting of the scopes asked what the access rules allow (anonymous callers get none).
 */
export function tokenIssuer(opts: { issuer: string; key: KeyObject; cert: X509Certificate; users: HtpasswdUsers; rules: AccessRule[]; ttlS?: number }) {
  const alg = opts.key.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256'
  const ttl = opts.ttlS ?? 300
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const auth = req.headers.authorization
    const user = auth ? await opts.users.verify(auth) : undefined
    if (auth && !user) {
      const body = encodeErrors({ code: 'UNAUTHORIZED', message: 'incorrect username or password' })
      res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Basic realm="cais-registry token"', 'Content-Length': Buffer.byteLength(body) }).end(body)
      return
    }
    const access = url.searchParams.getAll('scope').flatMap((scope) => {
      const [type, name, actions = ''] = scope.split(':')
      if (type !== 'repository' || !name || !user) return []
      const granted = actions.split(',').filter((a): a is Action => (a === 'pull' || a === 'push' || a === 'delete') && allowedBy(opts.rules, user, name, a))
      return granted.length > 0 ? [{ type, name, actions: granted }] : []
    })
    const now = Math.floor(Date.now() / 1000)
    const header = { alg, typ: 'JWT', x5c: [opts.cert.raw.toString('base64')] }
    const claims = { iss: opts.issuer, sub: user ?? '', aud: url.searchParams.get('service') ?? '', exp: now + ttl, nbf: now - 1, iat: now, jti: randomUUID(), access }
    const input = `${b64(header)}.${b64(claims)}`
    const signature = createSign('SHA256').update(input).sign(alg === 'ES256' ? { key: opts.key, dsaEncoding: 'ieee-p1363' } : opts.key).toString('base64url')
    const token = `${input}.${signature}`
    const body = JSON.stringify({ token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() })
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body)
  }
}
