import type { RequestContext } from './context.ts'

export type Handler = (ctx: RequestContext) => Promise<void>

interface Route {
  method: string
  pattern: string
  re: RegExp
  names: string[]
  handler: Handler
}

/**
 * The route table. Patterns use `{id}` for one path segment and `{name*}` for a greedy name that may hold
 * slashes and colons (`/images/{name*}/json` with `registry:5000/a/b:tag`). The version prefix is
 * stripped before matching, so every route answers with and without `/v1.xx`.
 */
export class Routes {
  readonly #routes: Route[] = []

  add(method: string, pattern: string, handler: Handler): void {
    const names: string[] = []
    const re = pattern.replace(/\{(\w+)(\*?)\}/g, (_m, name: string, greedy: string) => {
      names.push(name)
      return greedy ? '(.+)' : '([^/]+)'
    })
    this.#routes.push({ method, pattern, re: new RegExp(`^${re}$`), names, handler })
  }

  get(p: string, h: Handler): void {
    this.add('GET', p, h)
  }
  post(p: string, h: Handler): void {
    this.add('POST', p, h)
  }
  delete(p: string, h: Handler): void {
    this.add('DELETE', p, h)
  }
  head(p: string, h: Handler): void {
    this.add('HEAD', p, h)
  }
  put(p: string, h: Handler): void {
    this.add('PUT', p, h)
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string>; pattern: string } | undefined {
    for (const r of this.#routes) {
      if (r.method !== method) continue
      const m = r.re.exec(path)
      if (!m) continue
      const params: Record<string, string> = {}
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1]!)))
      return { handler: r.handler, params, pattern: r.pattern }
    }
    return undefined
  }
}
