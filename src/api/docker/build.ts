import type { BuildService } from '../../build/service.ts'
import { invalid } from '../../lib/errors.ts'
import { parseFilters } from '../../lib/filters.ts'
import { shortId } from '../../lib/ids.ts'
import { ProgressStream, bodyStream, queryBool, queryInt, sendJson, versionAtLeast } from '../context.ts'
import type { Routes } from '../router.ts'

export interface BuildRouteDeps {
  builds: BuildService
}

/** The header `cais build --secret` sends secrets in: base64 JSON `{id: base64 content}`. Docker's API has none. */
export const SECRETS_HEADER = 'x-cais-build-secrets'

export function buildRoutes(routes: Routes, d: BuildRouteDeps): void {
  routes.post('/build', async (ctx) => {
    const q = ctx.query
    if (q.get('version') === '2') throw invalid('BuildKit is not supported by this daemon: build with the classic builder (DOCKER_BUILDKIT=0)')
    const quiet = queryBool(q, 'q')
    const params = {
      tags: q.getAll('t').filter((t) => t !== ''),
      dockerfile: q.get('dockerfile') ?? '',
      buildArgs: jsonParam<Record<string, string | null>>(q, 'buildargs', {}),
      labels: jsonParam<Record<string, string>>(q, 'labels', {}),
      cacheFrom: jsonParam<string[]>(q, 'cachefrom', []),
      target: q.get('target') || undefined,
      noCache: queryBool(q, 'nocache'),
      noCacheFilter: q.getAll('nocache-filter'),
      pull: queryBool(q, 'pull'),
      platform: (versionAtLeast(ctx, '1.32') && q.get('platform')) || undefined,
      networkMode: q.get('networkmode') && q.get('networkmode') !== 'default' ? q.get('networkmode')! : undefined,
      shmSize: queryInt(q, 'shmsize') || undefined,
      extraHosts: q.getAll('extrahosts').filter((h) => h !== ''),
      keepContainers: q.get('rm') === '0' || q.get('rm') === 'false',
      secrets: secretsOf(ctx.req.headers[SECRETS_HEADER]),
      remote: q.get('remote') || undefined,
      buildId: q.get('buildid') || undefined,
    }
    const stream = new ProgressStream(ctx)
    const send = (m: Record<string, unknown>): void => {
      if (!quiet || 'errorDetail' in m) stream.send(m)
    }
    await stream.run(async () => {
      const result = await d.builds.build({
        ...params,
        body: bodyStream(ctx.req),
        signal: ctx.signal,
        send,
        onContextReceived: () => stream.begin(),
      })
      stream.send({ aux: { ID: result.imageId } })
      if (quiet) {
        stream.send({ stream: `${result.imageId}\n` })
        return
      }
      stream.send({ stream: `Successfully built ${shortId(result.imageId)}\n` })
      for (const t of result.tags) stream.send({ stream: `Successfully tagged ${t}\n` })
    })
  })

  routes.post('/build/prune', async (ctx) => {
    const filters = parseFilters(ctx.query.get('filters') ?? undefined, ['until', 'id', 'parent', 'type', 'description', 'inuse', 'shared', 'private', 'label', 'label!'])
    const keep = queryInt(ctx.query, 'reserved-space') ?? queryInt(ctx.query, 'keep-storage') ?? 0
    sendJson(ctx, 200, await d.builds.prune({ all: queryBool(ctx.query, 'all'), filters, keepStorage: keep }))
  })

  routes.post('/build/cancel', async (ctx) => {
    const id = ctx.query.get('id')
    if (!id) throw invalid('build ID is required')
    d.builds.cancel(id)
    sendJson(ctx, 200, {})
  })
}

function jsonParam<T>(q: URLSearchParams, name: string, dflt: T): T {
  const raw = q.get(name)
  if (raw === null || raw === '') return dflt
  try {
    return JSON.parse(raw) as T
  } catch (err) {
    throw invalid(`invalid ${name} parameter: ${raw}`, err)
  }
}

function secretsOf(header: string | string[] | undefined): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  if (typeof header !== 'string' || header === '') return out
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64').toString())
  } catch (err) {
    throw invalid('invalid build secrets header', err)
  }
  for (const [id, value] of Object.entries(parsed as Record<string, string>)) out.set(id, Buffer.from(value, 'base64'))
  return out
}
