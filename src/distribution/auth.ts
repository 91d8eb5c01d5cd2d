/** What a client may present to a registry: a user and password, or tokens from an earlier login. */
export interface Credentials {
  username?: string
  password?: string
  /** A refresh token (OAuth2) that `docker login` may have received. */
  identityToken?: string
  /** A bearer token to send as is. */
  registryToken?: string
}

export interface Challenge {
  scheme: 'basic' | 'bearer'
  params: Record<string, string>
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (one challenge; the first one wins). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header)
  if (!m) return undefined
  const scheme = m[1]!.toLowerCase()
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined
  const params: Record<string, string> = {}
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g
  for (let p = re.exec(m[2]!); p; p = re.exec(m[2]!)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1')
  return { scheme, params }
}

export const basicAuth = (c: Credentials): string | undefined =>
  c.username !== undefined && c.username !== '' ? `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}` : undefined

/**
 * Decodes the `X-Registry-Auth` header Docker clients send: base64url JSON of an AuthConfig.
 * An empty or undecodable header means anonymous, as in Docker.
 */
export function decodeRegistryAuth(header: string | undefined): Credentials | undefined {
  if (!header) return undefined
  try {
    const json = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, unknown>
    return credentialsOf(json)
  } catch {
    return undefined
  }
}

/** Credentials from an AuthConfig object (`/auth` body, `X-Registry-Auth`), any spelling of its keys. */
export function credentialsOf(json: Record<string, unknown>): Credentials | undefined {
  const get = (k: string): string | undefined => {
    for (const [key, v] of Object.entries(json)) if (key.toLowerCase() === k && typeof v === 'string' && v !== '') return v
    return undefined
  }
  const c: Credentials = {}
  const username = get('username')
  const password = get('password')
  const identityToken = get('identitytoken')
  const registryToken = get('registrytoken')
  if (username !== undefined) c.username = username
  if (password !== undefined) c.password = password
  if (identityToken !== undefined) c.identityToken = identityToken
  if (registryToken !== undefined) c.registryToken = registryToken
  return Object.keys(c).length > 0 ? c : undefined
}
