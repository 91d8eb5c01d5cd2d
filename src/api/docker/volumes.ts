import { parseFilters } from '../../lib/filters.ts'
import { checkVolumeCreateTypes } from './body-types.ts'
import type { VolumeService } from '../../volumes/service.ts'
import { queryBool, readJson, sendJson, sendStatus, versionAtLeast } from '../context.ts'
import type { Routes } from '../router.ts'

export function volumeRoutes(routes: Routes, d: { volumes: VolumeService }): void {
  const v = d.volumes

  routes.get('/volumes', async (ctx) => {
    const filters = parseFilters(ctx.query.get('filters') ?? undefined, ['dangling', 'driver', 'label', 'name'])
    sendJson(ctx, 200, { Volumes: v.list(filters), Warnings: [] })
  })

  routes.post('/volumes/create', async (ctx) => {
    const body = (await readJson<{ Name?: string; Driver?: string; DriverOpts?: Record<string, string> | null; Labels?: Record<string, string> | null }>(ctx.req)) ?? {}
    checkVolumeCreateTypes(body)
    const rec = await v.create({ name: body.Name, driver: body.Driver, options: body.DriverOpts, labels: body.Labels })
    sendJson(ctx, 201, v.view(rec.name))
  })

  routes.post('/volumes/prune', async (ctx) => {
    const filters = parseFilters(ctx.query.get('filters') ?? undefined, ['label', 'label!', 'all'])
    // Before API 1.42 a prune took every unused volume, named ones too; clients that pin an older version get that.
    if (!versionAtLeast(ctx, '1.42')) filters.set('all', ['true'])
    sendJson(ctx, 200, await v.prune(filters))
  })

  routes.get('/volumes/{name}', async (ctx) => sendJson(ctx, 200, v.view(v.get(ctx.params['name']!).name, true)))

  routes.put('/volumes/{name}', async (ctx) => sendJson(ctx, 503, { message: 'node is not part of a swarm' }))

  routes.delete('/volumes/{name}', async (ctx) => {
    await v.remove(ctx.params['name']!, { force: queryBool(ctx.query, 'force') })
    sendStatus(ctx, 204)
  })
}
