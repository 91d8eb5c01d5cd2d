import type { ContainerService } from '../../containers/service.ts'
import { checkMacAddress, gwPriorityOf } from '../../containers/networking.ts'
import { invalid } from '../../lib/errors.ts'
import { parseFilters } from '../../lib/filters.ts'
import type { NetworkCreateRequest, NetworkService } from '../../networks/service.ts'
import { readJson, sendJson, sendStatus, versionAtLeast } from '../context.ts'
import { checkNetworkCreateTypes } from './body-types.ts'
import type { Routes } from '../router.ts'

export function networkRoutes(routes: Routes, d: { networks: NetworkService; containers: ContainerService }): void {
  const { networks, containers } = d
  const nameOf = (id: string): string => {
    try {
      return containers.get(id).name.slice(1)
    } catch {
      return ''
    }
  }

  routes.get('/networks', async (ctx) => {
    const filters = parseFilters(ctx.query.get('filters') ?? undefined, ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'])
    sendJson(ctx, 200, networks.list(filters).map((n) => networks.inspect(n.id, nameOf)))
  })

  routes.post('/networks/create', async (ctx) => {
    const body = await readJson<NetworkCreateRequest & { CheckDuplicate?: boolean; EnableIPv4?: boolean }>(ctx.req)
    if (!body) throw invalid('network name must not be empty')
    checkNetworkCreateTypes(body)
    // EnableIPv4 came with 1.48; an IPv6-only network is one thing caisd cannot make, which it says rather than make a dual one.
    if (versionAtLeast(ctx, '1.48') && body.EnableIPv4 === false) {
      throw invalid(body.EnableIPv6 ? 'IPv6-only networks (EnableIPv4: false) are not supported by caisd' : 'IPv4 or IPv6 must be enabled')
    }
    // Before API 1.44 a client could ask for a second network of a name; from 1.44 names are always unique.
    const allowDuplicate = !versionAtLeast(ctx, '1.44') && body.CheckDuplicate === false
    sendJson(ctx, 201, await networks.create(body, { allowDuplicate }))
  })

  routes.post('/networks/prune', async (ctx) => {
    const filters = parseFilters(ctx.query.get('filters') ?? undefined, ['until', 'label', 'label!'])
    sendJson(ctx, 200, await networks.prune(filters))
  })

  routes.get('/networks/{id}', async (ctx) => sendJson(ctx, 200, networks.inspect(ctx.params['id']!, nameOf)))

  routes.delete('/networks/{id}', async (ctx) => {
    await networks.remove(ctx.params['id']!)
    sendStatus(ctx, 204)
  })

  routes.post('/networks/{id}/connect', async (ctx) => {
    type EndpointConfig = { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null; MacAddress?: string | null; GwPriority?: number | null }
    const body = (await readJson<{ Container?: string; EndpointConfig?: EndpointConfig | null }>(ctx.req)) ?? {}
    if (!body.Container) throw invalid('container is required')
    const c = body.EndpointConfig ?? {}
    if (c.MacAddress) checkMacAddress(c.MacAddress)
    await containers.connectNetwork(body.Container, ctx.params['id']!, {
      ...(c.Aliases?.length ? { aliases: c.Aliases } : {}),
      ...(c.IPAMConfig?.IPv4Address ? { ipv4Address: c.IPAMConfig.IPv4Address } : {}),
      ...(c.MacAddress ? { macAddress: c.MacAddress.toLowerCase() } : {}),
      // GwPriority came with API 1.48.
      ...(c.GwPriority && versionAtLeast(ctx, '1.48') ? { gwPriority: gwPriorityOf(c.GwPriority) } : {}),
    })
    sendStatus(ctx, 200)
  })

  routes.post('/networks/{id}/disconnect', async (ctx) => {
    const body = (await readJson<{ Container?: string; Force?: boolean }>(ctx.req)) ?? {}
    if (!body.Container) throw invalid('container is required')
    await containers.disconnectNetwork(body.Container, ctx.params['id']!)
    sendStatus(ctx, 200)
  })
}
