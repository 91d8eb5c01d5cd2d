import { readFileSync } from 'node:fs'
import bcrypt from 'bcryptjs'
import { type AccessRule, type Action, type Authorizer, globMatch } from './auth.ts'
import { RegistryError } from './errors.ts'

/**
 * The users of an htpasswd file of bcrypt hashes (`htpasswd -B`): checks a Basic `Authorization` header, remembering
 * a good answer (clients send the header on every request, and bcrypt is slow by design).
 */
export class HtpasswdUsers {
  readonly #users = new Map<string, string>()
  readonly #verified = new Map<string, string>()

  constructor(path: string) {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const [user, hash] = line.trim().split(':')
      if (!user || !hash) continue
      if (!/^\$2[aby]\$/.test(hash)) throw new Error(`${path}: the hash of ${user} is not bcrypt (make it with htpasswd -B)`)
      this.#users.set(user, hash)
    }
  }

  /** The user a Basic header names with the right password, else undefined. */
  async verify(header: string): Promise<string | undefined> {
    const known = this.#verified.get(header)
    if (known) return known
    if (!header.startsWith('Basic ')) return undefined
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    const hash = this.#users.get(decoded.slice(0, colon))
    if (colon < 0 || !hash || !(await bcrypt.compare(decoded.slice(colon + 1), hash))) return undefined
    if (this.#verified.size > 1000) this.#verified.clear()
    this.#verified.set(header, decoded.slice(0, colon))
    return decoded.slice(0, colon)
  }
}

/** Whether the rules let `user` do `action` on `repo` (no rules: any user may do anything). */
export function allowedBy(rules: AccessRule[], user: string, repo: string, action: Action): boolean {
  return rules.length === 0 || rules.some((r) => (r.user === user || r.user === '*') && globMatch(r.repository, repo) && r.actions.includes(action))
}

/** Basic auth against an htpasswd file, as distribution's htpasswd auth, with per-repository rules. */
export function htpasswdAuthorizer(opts: { path: string; realm: string; rules: AccessRule[] }): Authorizer {
  const users = new HtpasswdUsers(opts.path)
  const challenge = (): RegistryError =>
    Object.assign(new RegistryError('UNAUTHORIZED', 'authentication required', null), { headers: { 'WWW-Authenticate': `Basic realm="${opts.realm}"` } })
  return {
    async check(req, repo, action) {
      const user = await users.verify(req.headers.authorization ?? '')
      if (!user) throw challenge()
      if (repo !== undefined && !allowedBy(opts.rules, user, repo, action)) throw new RegistryError('DENIED', 'requested access to the resource is denied', { repository: repo, action })
      return user
    },
  }
}
