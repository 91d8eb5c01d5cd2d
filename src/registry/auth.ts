import type { IncomingMessage } from 'node:http'

export type Action = 'pull' | 'push' | 'delete'

/** Who may do what to which repositories: `repository` is a glob (`team/*`, `*`). Without rules, any user may. */
export interface AccessRule {
  user: string
  repository: string
  actions: Action[]
}

export interface Authorizer {
  /** The user, or a 401 challenge; then whether the rules let them do `action` on `repo`. */
  check(req: IncomingMessage, repo: string | undefined, action: Action): Promise<string | undefined>
}

/** Anyone may do anything: a registry on loopback, or behind a proxy that authenticates. */
export const anonymous: Authorizer = { check: async () => undefined }

/** `*` within one path component, `**` across them. */
export function globMatch(glob: string, name: string): boolean {
  const escape = (part: string): string => part.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '[^/]*')
  return new RegExp(`^${glob.split('**').map(escape).join('.*')}$`).test(name)
}
