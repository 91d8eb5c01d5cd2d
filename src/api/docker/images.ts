import type { Digest } from '../../content/digest.ts'
import type { ContentStore } from '../../content/store.ts'
import { commitContainer } from '../../containers/commit.ts'
import type { ContainerService } from '../../containers/service.ts'
import { loadArchive, saveArchive } from '../../images/archive.ts'
import { importImage } from '../../images/import.ts'
import { manifestSummaries } from '../../images/manifest-summary.ts'
import { formatReference, parseReference, withDefaultTag } from '../../images/reference.ts'
import { type ImageService, emptyContainerConfig } from '../../images/service.ts'
import type { EventBus } from '../../events/bus.ts'
import { invalid } from '../../lib/errors.ts'
import { parseFilters } from '../../lib/filters.ts'
import { parsePlatformJson, platformMatches } from '../../lib/platform.ts'
import { platformQuery } from './platform-query.ts'
import type { LayerStore } from '../../snapshots/layers.ts'
import { ProgressStream, type RequestContext, bodyStream, queryBool, readJson, sendJson, takeRestOfBody, versionAtLeast } from '../context.ts'
import type { Routes } from '../router.ts'
import { type DistributionRouteDeps, pullRoute } from './distribution.ts'

export interface ImageRouteDeps {
  images: ImageService
  content: ContentStore
  layers: LayerStore
  events: EventBus
  containers: ContainerService
  distribution: DistributionRouteDeps
}

export function imageRoutes(routes: Routes, d: ImageRouteDeps): void {
  const { images } = d
  const usersOf = (id: Digest): string[] => d.containers.containersUsing(id).map((c) => c.id)

  routes.get('/images/json', async (ctx) => {
    const filters = parseFilters(ctx.query.get('filters') ?? undefined, ['before', 'dangling', 'label', 'reference', 'since', 'until'])
    // Before API 1.41 a `filter` parameter named a reference.
    const legacy = versionAtLeast(ctx, '1.41') ? '' : ctx.query.get('filter')
    if (legacy) filters.set('reference', [...(filters.get('reference') ?? []), legacy])
    const list = images.list({ all: queryBool(ctx.query, 'all'), filters })
    if (versionAtLeast(ctx, '1.42') && queryBool(ctx.query, 'shared-size')) {
      const shared = images.sharedSizes()
      for (const i of list) i.SharedSize = shared.get(i.Id as Digest) ?? 0
    }
    if (versionAtLeast(ctx, '1.47') && queryBool(ctx.query, 'manifests')) {
      for (const i of list) i.Manifests = await manifestSummaries(images, i.Id as Digest, usersOf(i.Id as Digest))
    }
    // VirtualSize went with API 1.44; older clients read the size there.
    sendJson(ctx, 200, versionAtLeast(ctx, '1.44') ? list : list.map((i) => ({ ...i, VirtualSize: i.Size })))
  })

  routes.post('/commit', async (ctx) => {
    const q = ctx.query
    const container = q.get('container')
    if (!container) throw invalid('container is required')
    const repo = q.get('repo') ?? ''
    const tag = q.get('tag') ?? ''
    if (repo === '' && tag !== '') throw invalid('invalid reference format: a tag needs a repository')
    const config = (await readJson<Record<string, unknown>>(ctx.req)) ?? {}
    const id = await commitContainer(
      container,
      {
        ...(repo !== '' ? { reference: tag !== '' ? `${repo}:${tag}` : repo } : {}),
        comment: q.get('comment') ?? '',
        author: q.get('author') ?? '',
        changes: q.getAll('changes').filter((c) => c !== ''),
        pause: q.get('pause') === null ? true : queryBool(q, 'pause'),
        config,
      },
      d,
    )
    sendJson(ctx, 201, { Id: id })
  })

  routes.post('/images/prune', async (ctx) => {
    const filters = parseFilters(ctx.query.get('filters') ?? undefined, ['dangling', 'until', 'label', 'label!'])
    sendJson(ctx, 200, await images.prune(filters))
  })

  routes.post('/images/create', async (ctx) => {
    const q = ctx.query
    const fromSrc = q.get('fromSrc')
    if (fromSrc === null) {
      if (!q.get('fromImage')) throw invalid('either fromSrc or fromImage must be given')
      await pullRoute(ctx, d.distribution)
      return
    }
    if (fromSrc !== '-') throw invalid('importing from a URL is not supported; pipe the archive on stdin instead')
    let target: string | undefined
    const repo = q.get('repo')
    if (repo) {
      const ref = parseReference(repo)
      const tag = q.get('tag')
      target = formatReference(withDefaultTag(tag ? { ...ref, tag } : ref))
    }
    const platform = versionAtLeast(ctx, '1.32') ? q.get('platform') : null
    const [os, architecture] = platform ? platform.split('/') : []
    const rec = await importImage(bodyStream(ctx.req), d, {
      changes: q.getAll('changes'),
      message: q.get('message') ?? '',
      ...(os && architecture ? { platform: { os, architecture } } : {}),
    })
    if (target) await images.tag(rec.id, target)
    d.events.emit('image', 'import', rec.id, { name: rec.id })
    const res = ctx.res!
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ status: rec.id }) + '\n')
  })

  routes.post('/images/load', async (ctx) => {
    const platform = platformQuery(ctx, '1.48')
    // Answered at once, as Docker's: a bad archive is an error in the stream, where clients look for it.
    const stream = new ProgressStream(ctx)
    stream.begin()
    await stream.run(async () => {
      let loaded
      try {
        loaded = await loadArchive(bodyStream(ctx.req), d, { ...(platform ? { platform } : {}) })
      } catch (err) {
        await takeRestOfBody(ctx.req)
        throw err
      }
      for (const { line, id } of loaded) {
        stream.send({ stream: `${line}\n` })
        d.events.emit('image', 'load', id, { name: id })
      }
    })
  })

  const save = async (ctx: RequestContext, names: string[]): Promise<void> => {
    if (names.length === 0) throw invalid('no image names given')
    const platform = platformQuery(ctx, '1.48')
    for (const n of names) images.resolveFor(n, platform) // 404 before the stream starts
    const res = ctx.res!
    res.writeHead(200, { 'Content-Type': 'application/x-tar' })
    await saveArchive(names, res, d)
    for (const n of names) {
      const id = images.resolve(n).id
      d.events.emit('image', 'save', id, { name: id })
    }
  }
  routes.get('/images/get', async (ctx) => save(ctx, ctx.query.getAll('names')))
  routes.get('/images/{name*}/get', async (ctx) => save(ctx, [ctx.params['name']!]))

  routes.get('/images/{name*}/json', async (ctx) => {
    images.resolveFor(ctx.params['name']!, platformQuery(ctx, '1.49'))
    const { Container, ContainerConfig, ...view } = images.inspect(ctx.params['name']!)
    // The manifest's descriptor from 1.48, and the image's manifests with `manifests=1`.
    if (versionAtLeast(ctx, '1.48')) {
      const { platform: _, ...descriptor } = await images.manifestDescriptor(view.Id as Digest)
      view.Descriptor = descriptor
      if (queryBool(ctx.query, 'manifests')) view.Manifests = await manifestSummaries(images, view.Id as Digest, usersOf(view.Id as Digest))
    }
    // As Docker's: VirtualSize before API 1.44, Container and ContainerConfig before 1.45, and a Config with the
    // fields of a container's (Hostname, AttachStdin, …) before 1.50.
    sendJson(ctx, 200, {
      ...view,
      ...(versionAtLeast(ctx, '1.50') ? {} : { Config: { ...emptyContainerConfig, ...view.Config } }),
      ...(versionAtLeast(ctx, '1.44') ? {} : { VirtualSize: view.Size }),
      ...(versionAtLeast(ctx, '1.45') ? {} : { Container, ContainerConfig }),
    })
  })

  routes.get('/images/{name*}/history', async (ctx) => {
    images.resolveFor(ctx.params['name']!, platformQuery(ctx, '1.48'))
    sendJson(ctx, 200, images.history(ctx.params['name']!))
  })

  routes.post('/images/{name*}/tag', async (ctx) => {
    const repo = ctx.query.get('repo')
    if (!repo) throw invalid('repository name must have at least one component')
    const ref = parseReference(repo)
    const tag = ctx.query.get('tag')
    await images.tag(ctx.params['name']!, formatReference(withDefaultTag(tag ? { ...ref, tag } : ref)))
    ctx.res!.writeHead(201).end()
  })

  routes.delete('/images/{name*}', async (ctx) => {
    // `platforms` (1.50): this store holds one platform per image, which must be among those named.
    const platforms = versionAtLeast(ctx, '1.50') ? ctx.query.getAll('platforms').filter((p) => p !== '').map(parsePlatformJson) : []
    if (platforms.length > 0) {
      const actual = images.platformOf(images.resolve(ctx.params['name']!).id)
      if (!platforms.some((p) => platformMatches(actual, p))) images.resolveFor(ctx.params['name']!, platforms[0])
    }
    sendJson(ctx, 200, await images.remove(ctx.params['name']!, { force: queryBool(ctx.query, 'force'), noprune: queryBool(ctx.query, 'noprune') }))
  })
}
