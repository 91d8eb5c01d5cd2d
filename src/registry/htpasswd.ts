import { readFileSync } from 'node:fs'
import bcrypt from 'bcryptjs'
import { type AccessRule, type Authorizer, globMatch } from './auth.ts'
import { RegistryError } from './errors.ts'

/**
 * Basic auth against an htpasswd file of bcrypt hashes (`htpasswd -B`), as distribution's htpasswd auth; a good
 * answer is remembered (clients send the header on every request, and bcrypt is slow by design).
 */
export function htpasswdAuthorizer(opts: { path: string; realm: string; rules: AccessRule[] }): Authorizer {
  const users = new Map<string, string>()
  for (const line of readFileSync(opts.path, 'utf8').split('\n')) {
    const [user, hash] = line.trim().split(':')
    if (user && hash) {
      if (!/^\$2[aby]\$/.test(hash)) throw new Error(`${opts.path}: the hash of ${user} is not bcrypt (make it with htpasswd -B)`)
      users.set(user, hash)
    }
  }
  const verified = new Map<string, string>()
  const challenge = (): RegistryError =>
    Object.assign(new RegistryError('UNAUTHORIZED', 'authentication required', null), { headers: { 'WWW-Authenticate': `Basic realm="${opts.realm}"` } })
  return {
    async check(req, repo, action) {
      const header = req.headers.authorization ?? ''
      let user = verified.get(header)
      if (!user) {
        if (!header.startsWith('Basic ')) throw challenge()
        const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
        const colon = decoded.indexOf(':')
        const [name, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)]
        const hash = users.get(name)
        if (colon < 0 || !hash || !(await bcrypt.compare(password, hash))) throw challenge()
        user = name
        if (verified.size > 1000) verified.clear()
        verified.set(header, user)
      }
      if (repo === undefined || opts.rules.length === 0) return user
      const allowed = opts.rules.some((r) => (r.user === user || r.user === '*') && globMatch(r.repository, repo) && r.actions.includes(action))
      if (!allowed) throw new RegistryError('DENIED', 'requested access to the resource is denied', { repository: repo, action })
      return user
    },
  }
}
