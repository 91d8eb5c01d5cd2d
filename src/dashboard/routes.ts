import { pipeline } from 'node:stream/promises'
import type { EngineClient } from '../client/engine-client.ts'
import type { AlertEngine } from './alerts.ts'
import { containerPath, download, listDirectory, upload } from './files.ts'
import type * as StacksModule from './stacks.ts'
import type { StackAction } from './stacks.ts'
import { withVolumeReader } from './volume-files.ts'
import { type HistoryStore, stackTotals } from './history.ts'
import { type RouteContext, HttpError, readJsonBody, sendJson } from './http-util.ts'
import { compareImages } from './image-compare.ts'
import { analyseLayers } from './layer-analysis.ts'
import type { LayerIndexCache } from './layer-index.ts'

/** The stacks' compose library, loaded when a page first uses it: the rest of the dashboard does without it. */
const stacks = (): Promise<typeof StacksModule> => import('./stacks.ts')

export interface Route {
  method: string
  pattern: RegExp
  /** Changes the engine: needs the CSRF token and the dashboard's origin, and goes to the audit log. */
  mutating: boolean
  handle(ctx: RouteContext): Promise<void>
}

type ContainerAction = 'start' | 'stop' | 'restart' | 'pause' | 'unpause' | 'kill'

/** The dashboard's REST routes: each one call or a few through the typed client, so any engine answers them. */
export function dashboardRoutes(client: EngineClient, engine: { name: string }, layers: LayerIndexCache): Route[] {
  const get = (pattern: RegExp, handle: Route['handle']): Route => ({ method: 'GET', pattern, mutating: false, handle })
  const change = (method: string, pattern: RegExp, handle: Route['handle']): Route => ({ method, pattern, mutating: true, handle })
  const id = (ctx: RouteContext): string => decodeURIComponent(ctx.params[0]!)

  const contentOf = async (ctx: RouteContext): Promise<string> => {
    const body = await readJsonBody<{ content?: unknown }>(ctx.req, 4 * 1024 * 1024)
    if (typeof body?.content !== 'string') throw new HttpError(400, 'content (the compose file\'s text) is required')
    return body.content
  }

  const analysed = async (image: string): Promise<{ index: Awaited<ReturnType<LayerIndexCache['get']>>; analysis: ReturnType<typeof analyseLayers> }> => {
    const index = await layers.get(client, image)
    return { index, analysis: analyseLayers(index.layers.map((l) => l.entries)) }
  }

  return [
    get(/^\/api\/engine$/, async ({ res }) => {
      const [version, info] = await Promise.all([client.system.version(), client.system.info()])
      sendJson(res, 200, { name: engine.name, version, info })
    }),
    get(/^\/api\/containers$/, async ({ res }) => sendJson(res, 200, await client.containers.list({ all: true }))),
    get(/^\/api\/containers\/([^/]+)$/, async (ctx) => sendJson(ctx.res, 200, await client.containers.inspect(id(ctx)))),
    get(/^\/api\/containers\/([^/]+)\/top$/, async (ctx) => sendJson(ctx.res, 200, await client.containers.top(id(ctx)))),
    get(/^\/api\/containers\/([^/]+)\/logs$/, async (ctx) => {
      // The whole log as a download, streamed as it is read.
      const name = id(ctx)
      const chunks = await client.containers.logs(name, { timestamps: ctx.url.searchParams.get('timestamps') === '1' })
      ctx.res.writeHead(200, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Disposition': `attachment; filename="${name.replace(/[^\w.-]/g, '_')}.log"`,
        'Cache-Control': 'no-store',
      })
      await pipeline(
        (async function* () {
          for await (const c of chunks) yield c.data
        })(),
        ctx.res,
      )
    }),
    get(/^\/api\/containers\/([^/]+)\/files$/, async (ctx) => sendJson(ctx.res, 200, await listDirectory(client, id(ctx), containerPath(ctx.url.searchParams.get('path'))))),
    get(/^\/api\/containers\/([^/]+)\/files\/download$/, async (ctx) => download(client, id(ctx), containerPath(ctx.url.searchParams.get('path')), ctx.res)),
    change('PUT', /^\/api\/containers\/([^/]+)\/files$/, async (ctx) => {
      const length = Number(ctx.req.headers['content-length'])
      if (!Number.isSafeInteger(length) || length < 0) throw new HttpError(411, 'the upload needs a Content-Length')
      await upload(client, id(ctx), containerPath(ctx.url.searchParams.get('path')), ctx.url.searchParams.get('name') ?? '', ctx.req, length)
      sendJson(ctx.res, 200, {})
    }),
    change('POST', /^\/api\/containers\/([^/]+)\/(start|stop|restart|pause|unpause|kill)$/, async (ctx) => {
      await containerAction(client, id(ctx), ctx.params[1] as ContainerAction)
      sendJson(ctx.res, 200, {})
    }),
    change('DELETE', /^\/api\/containers\/([^/]+)$/, async (ctx) => {
      await client.containers.remove(id(ctx), { force: ctx.url.searchParams.get('force') === '1' })
      sendJson(ctx.res, 200, {})
    }),
    get(/^\/api\/stacks$/, async ({ res }) => sendJson(res, 200, stacksOf(await client.containers.list({ all: true })))),
    // A stack's first compose file, checked as it is edited and saved in place when compose finds nothing wrong.
    get(/^\/api\/stacks\/([^/]+)\/file$/, async (ctx) => {
      const { editableFile, stackFilesOf } = await stacks()
      sendJson(ctx.res, 200, editableFile(await stackFilesOf(client, id(ctx))))
    }),
    {
      method: 'POST',
      pattern: /^\/api\/stacks\/([^/]+)\/check$/,
      mutating: false,
      handle: async (ctx) => {
        const { checkCompose, stackFilesOf } = await stacks()
        sendJson(ctx.res, 200, { diagnostics: checkCompose(await stackFilesOf(client, id(ctx)), await contentOf(ctx)) })
      },
    },
    change('PUT', /^\/api\/stacks\/([^/]+)\/file$/, async (ctx) => {
      const { saveCompose, stackFilesOf } = await stacks()
      const diagnostics = await saveCompose(await stackFilesOf(client, id(ctx)), await contentOf(ctx))
      if (diagnostics.length === 0) sendJson(ctx.res, 200, { saved: true, diagnostics })
      else sendJson(ctx.res, 400, { message: diagnostics[0]!.message, saved: false, diagnostics })
    }),
    change('POST', /^\/api\/stacks\/([^/]+)\/(up|down|pull|restart)$/, async (ctx) => {
      const { stackAction, stackFilesOf } = await stacks()
      sendJson(ctx.res, 200, { lines: await stackAction(client, await stackFilesOf(client, id(ctx)), ctx.params[1] as StackAction) })
    }),
    get(/^\/api\/images$/, async ({ res }) => {
      // The disk-usage view carries what a plain list leaves out: the shared size and the containers using each.
      const { Images } = await client.system.df()
      sendJson(res, 200, Images)
    }),
    // Two images file by file (`a` before, `b` after): the first 5,000 of each list, and their full counts.
    get(/^\/api\/images\/compare$/, async (ctx) => {
      const [a, b] = [ctx.url.searchParams.get('a'), ctx.url.searchParams.get('b')]
      if (!a || !b) throw new HttpError(400, 'two images are needed: a and b')
      const [ia, ib] = await Promise.all([analysed(a), analysed(b)])
      const c = compareImages({ layers: ia.index.layers, merged: ia.analysis.merged }, { layers: ib.index.layers, merged: ib.analysis.merged })
      const cut = <T>(list: T[]): { total: number; files: T[] } => ({ total: list.length, files: list.slice(0, 5000) })
      sendJson(ctx.res, 200, { a: ia.index.id, b: ib.index.id, sharedLayers: c.sharedLayers, sharedBytes: c.sharedBytes, added: cut(c.added), removed: cut(c.removed), modified: cut(c.modified) })
    }),
    get(/^\/api\/images\/([^/]+)$/, async (ctx) => {
      const [inspect, history] = await Promise.all([client.images.inspect(id(ctx)), client.images.history(id(ctx))])
      sendJson(ctx.res, 200, { inspect, history })
    }),
    change('DELETE', /^\/api\/images\/([^/]+)$/, async (ctx) => {
      sendJson(ctx.res, 200, await client.images.remove(id(ctx), { force: ctx.url.searchParams.get('force') === '1' }))
    }),
    change('POST', /^\/api\/images\/([^/]+)\/tag$/, async (ctx) => {
      const body = await readJsonBody<{ repo?: string; tag?: string }>(ctx.req)
      if (!body?.repo) throw new HttpError(400, 'repo is required')
      await client.images.tag(id(ctx), body.repo, body.tag)
      sendJson(ctx.res, 200, {})
    }),
    // Dangling images only, or (`all=1`) every image no container uses, as `docker image prune [-a]`.
    change('POST', /^\/api\/images\/prune$/, async (ctx) => {
      const all = ctx.url.searchParams.get('all') === '1'
      sendJson(ctx.res, 200, await client.images.prune({ filters: { dangling: [all ? 'false' : 'true'] } }))
    }),
    get(/^\/api\/images\/([^/]+)\/layers$/, async (ctx) => {
      const { index, analysis } = await analysed(id(ctx))
      sendJson(ctx.res, 200, {
        id: index.id,
        history: index.history,
        layers: index.layers.map((l, i) => ({ digest: l.digest, bytes: analysis.layers[i]!.bytes, entries: analysis.layers[i]!.entries.length })),
        wastedBytes: analysis.wastedBytes,
        efficiency: analysis.efficiency,
        inefficiencies: analysis.inefficiencies.slice(0, 200),
      })
    }),
    get(/^\/api\/images\/([^/]+)\/layers\/(\d+)$/, async (ctx) => {
      const { analysis } = await analysed(id(ctx))
      const layer = analysis.layers[Number(ctx.params[1])]
      if (!layer) throw new HttpError(404, `no layer ${ctx.params[1]}`)
      sendJson(ctx.res, 200, layer.entries)
    }),
    get(/^\/api\/images\/([^/]+)\/merged$/, async (ctx) => sendJson(ctx.res, 200, (await analysed(id(ctx))).analysis.merged)),
    // From the disk-usage view: each volume with its size and how many containers use it.
    get(/^\/api\/volumes$/, async ({ res }) => sendJson(res, 200, (await client.system.df()).Volumes)),
    // A volume's files, read-only (volume-files.ts): a listing, or a file or directory to download.
    get(/^\/api\/volumes\/([^/]+)\/files$/, async (ctx) => {
      const path = containerPath(ctx.url.searchParams.get('path'))
      const listing = await withVolumeReader(client, id(ctx), path, async (reader, inReader) => listDirectory(client, reader, inReader))
      sendJson(ctx.res, 200, { path, entries: listing.entries })
    }),
    get(/^\/api\/volumes\/([^/]+)\/files\/download$/, async (ctx) => {
      const path = containerPath(ctx.url.searchParams.get('path'))
      await withVolumeReader(client, id(ctx), path, async (reader, inReader) => download(client, reader, inReader, ctx.res, path === '/' ? id(ctx) : undefined))
    }),
    change('DELETE', /^\/api\/volumes\/([^/]+)$/, async (ctx) => {
      await client.volumes.remove(id(ctx))
      sendJson(ctx.res, 200, {})
    }),
    get(/^\/api\/networks$/, async ({ res }) => sendJson(res, 200, await client.networks.list())),
    change('POST', /^\/api\/networks$/, async (ctx) => {
      const body = await readJsonBody<{ name?: string; driver?: string; subnet?: string; internal?: boolean }>(ctx.req)
      if (!body?.name) throw new HttpError(400, 'name is required')
      const created = await client.networks.create({
        Name: body.name,
        ...(body.driver ? { Driver: body.driver } : {}),
        ...(body.internal ? { Internal: true } : {}),
        ...(body.subnet ? { IPAM: { Config: [{ Subnet: body.subnet }] } } : {}),
      })
      sendJson(ctx.res, 201, created)
    }),
    change('DELETE', /^\/api\/networks\/([^/]+)$/, async (ctx) => {
      await client.networks.remove(id(ctx))
      sendJson(ctx.res, 200, {})
    }),
    change('POST', /^\/api\/networks\/([^/]+)\/(connect|disconnect)$/, async (ctx) => {
      const body = await readJsonBody<{ container?: string }>(ctx.req)
      if (!body?.container) throw new HttpError(400, 'container is required')
      if (ctx.params[1] === 'connect') await client.networks.connect(id(ctx), body.container)
      else await client.networks.disconnect(id(ctx), body.container)
      sendJson(ctx.res, 200, {})
    }),
    get(/^\/api\/system\/df$/, async ({ res }) => sendJson(res, 200, await client.system.df())),
  ]
}

export interface Stack {
  project: string
  workingDir: string
  configFiles: string[]
  services: Array<{ service: string; containers: Array<{ id: string; name: string; state: string; status: string }> }>
}

/**
 * Compose projects as the engine shows them: containers grouped by their `com.docker.compose.*` labels, whoever made
 * them (cais compose, docker compose, docker-compose 1.29).
 */
export function stacksOf(containers: Array<{ Id: string; Names: string[]; State: string; Status: string; Labels: Record<string, string> }>): Stack[] {
  const stacks = new Map<string, Stack>()
  for (const c of containers) {
    const project = c.Labels['com.docker.compose.project']
    if (!project) continue
    const stack = stacks.get(project) ?? {
      project,
      workingDir: c.Labels['com.docker.compose.project.working_dir'] ?? '',
      configFiles: (c.Labels['com.docker.compose.project.config_files'] ?? '').split(',').filter(Boolean),
      services: [],
    }
    stacks.set(project, stack)
    const name = c.Labels['com.docker.compose.service'] ?? ''
    let service = stack.services.find((s) => s.service === name)
    if (!service) {
      service = { service: name, containers: [] }
      stack.services.push(service)
    }
    service.containers.push({ id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, ''), state: c.State, status: c.Status })
  }
  for (const s of stacks.values()) s.services.sort((a, b) => (a.service < b.service ? -1 : 1))
  return [...stacks.values()].sort((a, b) => (a.project < b.project ? -1 : 1))
}

/** History (samples over a range, per container and per stack) and alerts (rules and what fired). */
export function monitoringRoutes(history: HistoryStore, alerts: AlertEngine): Route[] {
  return [
    {
      method: 'GET',
      pattern: /^\/api\/history$/,
      mutating: false,
      async handle({ res, url }) {
        const now = Date.now()
        const rangeMs = Number(url.searchParams.get('range') ?? 3600_000)
        if (!Number.isFinite(rangeMs) || rangeMs <= 0 || rangeMs > 31 * 24 * 3600_000) throw new HttpError(400, 'range must be a positive number of milliseconds, up to 31 days')
        const { resolutionMs, ticks } = await history.query(now - rangeMs, now)
        sendJson(res, 200, { resolutionMs, ticks: ticks.map((t) => ({ ...t, stacks: stackTotals(t) })) })
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/alerts$/,
      mutating: false,
      async handle({ res }) {
        sendJson(res, 200, { rules: alerts.rules, history: await alerts.history() })
      },
    },
    {
      method: 'PUT',
      pattern: /^\/api\/alerts\/rules$/,
      mutating: true,
      async handle({ req, res }) {
        const body = await readJsonBody<{ rules?: unknown }>(req)
        let rules
        try {
          rules = await alerts.setRules(body?.rules)
        } catch (err) {
          if ((err as Error).message.startsWith('alert rule')) throw new HttpError(400, (err as Error).message)
          throw err
        }
        sendJson(res, 200, { rules })
      },
    },
  ]
}

async function containerAction(client: EngineClient, id: string, action: ContainerAction): Promise<void> {
  switch (action) {
    case 'start':
      return client.containers.start(id)
    case 'stop':
      await client.containers.stop(id)
      return
    case 'restart':
      return client.containers.restart(id)
    case 'pause':
      return client.containers.pause(id)
    case 'unpause':
      return client.containers.unpause(id)
    case 'kill':
      return client.containers.kill(id)
  }
}
