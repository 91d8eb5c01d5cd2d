import type { Digest } from '../../content/digest.ts'
import type { ContentStore } from '../../content/store.ts'
import { credentialsOf, decodeRegistryAuth } from '../../distribution/auth.ts'
import type { BlobSources } from '../../distribution/blob-sources.ts'
import { dockerHubIndex } from '../../distribution/hosts.ts'
import { inspectDistribution } from '../../distribution/inspect.ts'
import { parsePlatform, requirePlatform } from '../../lib/platform.ts'
import { pullImage } from '../../distribution/pull.ts'
import { pushImage } from '../../distribution/push.ts'
import type { Registries } from '../../distribution/registries.ts'
import type { EventBus } from '../../events/bus.ts'
import { type Reference, defaultDomain, familiarString, formatReference, parseReference, withDefaultTag } from '../../images/reference.ts'
import type { ImageService } from '../../images/service.ts'
import { CaisError, invalid } from '../../lib/errors.ts'
import type { LayerStore } from '../../snapshots/layers.ts'
import { ProgressStream, type RequestContext, readJson, sendJson, versionAtLeast } from '../context.ts'
import type { Routes } from '../router.ts'
import { platformQuery } from './platform-query.ts'

export interface DistributionRouteDeps {
  registries: Registries
  content: ContentStore
  layers: LayerStore
  images: ImageService
  blobSources: BlobSources
  events: EventBus
  maxConcurrentDownloads: number
  maxConcurrentUploads: number
}

/** `POST /images/create?fromImage=…`: a pull. Called from the image routes, which also serve imports there. */
export async function pullRoute(ctx: RequestContext, d: DistributionRouteDeps): Promise<void> {
  const q = ctx.query
  const base = parseReference(q.get('fromImage') ?? '')
  const tag = q.get('tag') ?? ''
  const ref: Reference = { ...base }
  if (tag !== '') {
    if (tag.includes(':')) ref.digest = tag
    else ref.tag = tag
    parseReference(familiarString(ref)) // validates the tag or digest
  }
  // `platform` came with API 1.32.
  const platformText = versionAtLeast(ctx, '1.32') ? q.get('platform') : null
  const platform = platformText ? parsePlatform(platformText) : undefined
  const credentials = decodeRegistryAuth(headerOf(ctx, 'x-registry-auth'))
  const stream = new ProgressStream(ctx)
  const deps = { ...d, concurrency: d.maxConcurrentDownloads }
  await stream.run(async () => {
    let lastId: Digest | undefined
    const pullOne = async (r: Reference): Promise<boolean> => {
      const result = await pullImage({ ref: r, progress: stream.send, signal: ctx.signal, ...(platform ? { platform } : {}), ...(credentials ? { credentials } : {}) }, deps)
      d.events.emit('image', 'pull', familiarString(r), { name: familiarString(r) })
      lastId = result.id
      return result.updated
    }
    if (ref.tag !== undefined || ref.digest !== undefined) {
      const updated = await pullOne(ref)
      stream.send({ status: `Status: ${updated ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarString(ref)}` })
      // A single-platform image for another platform is kept, with Docker's warning (its run will need emulation).
      if (platform && lastId) {
        try {
          requirePlatform(familiarString(ref), d.images.platformOf(lastId), platform)
        } catch (err) {
          stream.send({ status: `WARNING: ${(err as Error).message}` })
        }
      }
      return
    }
    const client = await d.registries.client(ref.domain, credentials)
    const tags = await client.listTags(ref.path)
    if (tags.length === 0) throw new CaisError('not-found', `no tags found for ${familiarString(ref)}`)
    let updated = false
    for (const t of tags) updated = (await pullOne({ ...ref, tag: t })) || updated
    stream.send({ status: `Status: ${updated ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarString(ref)}` })
  })
}

export function distributionRoutes(routes: Routes, d: DistributionRouteDeps): void {
  routes.post('/images/{name*}/push', async (ctx) => {
    const ref = parseReference(ctx.params['name']!)
    const tag = ctx.query.get('tag')
    if (tag) ref.tag = tag
    if (ref.digest !== undefined) throw invalid('cannot push a digest reference')
    // `platform` (1.46): what is pushed must be for it; with no tag, every tag of the repository.
    const platform = platformQuery(ctx, '1.46')
    if (platform) {
      const named = tag || ref.tag ? [formatReference(withDefaultTag(ref))] : d.images.tagsOf(`${ref.domain}/${ref.path}`).map((t) => formatReference(t.ref))
      for (const n of named) d.images.resolveFor(n, platform)
    }
    const credentials = decodeRegistryAuth(headerOf(ctx, 'x-registry-auth'))
    const stream = new ProgressStream(ctx)
    const deps = { ...d, concurrency: d.maxConcurrentUploads, chunkSize: 16 * 1024 * 1024 }
    await stream.run(async () => {
      await pushImage({ ref, progress: stream.send, signal: ctx.signal, ...(credentials ? { credentials } : {}) }, deps)
      d.events.emit('image', 'push', familiarString(ref), { name: familiarString(ref) })
    })
  })

  routes.get('/distribution/{name*}/json', async (ctx) => {
    const ref = parseReference(ctx.params['name']!)
    if (ref.tag === undefined && ref.digest === undefined) ref.tag = 'latest'
    const client = await d.registries.client(ref.domain, decodeRegistryAuth(headerOf(ctx, 'x-registry-auth')))
    sendJson(ctx, 200, await inspectDistribution(client, ref, ctx.signal))
  })

  routes.post('/auth', async (ctx) => {
    const body = (await readJson<Record<string, unknown>>(ctx.req)) ?? {}
    const server = typeof body['serveraddress'] === 'string' ? body['serveraddress'] : ''
    const domain = registryDomain(server)
    const creds = credentialsOf(body)
    d.registries.forget(domain)
    const client = await d.registries.client(domain, creds)
    try {
      await client.login(ctx.signal)
    } catch (err) {
      d.registries.forget(domain)
      if (err instanceof CaisError && (err.kind === 'unauthorized' || err.kind === 'forbidden')) throw new CaisError('unauthorized', err.message, { cause: err })
      throw err
    }
    sendJson(ctx, 200, { Status: 'Login Succeeded', IdentityToken: '' })
  })

  routes.get('/images/search', async (ctx) => {
    const term = ctx.query.get('term') ?? ''
    if (term === '') throw invalid('search term is required')
    const slash = term.indexOf('/')
    const first = slash > 0 ? term.slice(0, slash) : ''
    const domain = first.includes('.') || first.includes(':') || first === 'localhost' ? first : defaultDomain
    const client = await d.registries.client(domain, decodeRegistryAuth(headerOf(ctx, 'x-registry-auth')))
    const query = slash > 0 && domain !== defaultDomain ? term.slice(slash + 1) : term
    const limit = ctx.query.get('limit') ?? '25'
    const res = await client.search(query, Number(limit) || 25)
    sendJson(ctx, 200, res)
  })
}

/** `docker login` names registries as `host[:port]`, a URL, or Docker Hub's index URL; all map to a reference domain. */
export function registryDomain(server: string): string {
  if (server === '' || server === dockerHubIndex) return defaultDomain
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '')
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? defaultDomain : host
}

const headerOf = (ctx: RequestContext, name: string): string | undefined => {
  const v = ctx.req.headers[name]
  return Array.isArray(v) ? v[0] : v
}
