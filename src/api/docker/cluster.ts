import type { ClusterMembership, ClusterNode } from '../../cluster/membership.ts'
import { notFound } from '../../lib/errors.ts'
import type { NodeView } from '../../wire/types.ts'
import { sendJson } from '../context.ts'
import type { Routes } from '../router.ts'

/**
 * The nodes of the cluster store, on `GET /nodes` in the shape of Docker's swarm nodes, so `cais node ls` and the
 * docker CLI's `node ls` both list them. Registered before the swarm routes, which answer them on a daemon with no
 * cluster store.
 */
export function clusterRoutes(routes: Routes, membership: ClusterMembership): void {
  routes.get('/nodes', async (ctx) => sendJson(ctx, 200, (await membership.nodes()).map(nodeView)))
  routes.get('/nodes/{id}', async (ctx) => {
    const id = ctx.params['id']!
    const matches = (await membership.nodes()).filter((n) => n.ID === id || n.Hostname === id || (id.length >= 3 && n.ID.startsWith(id)))
    if (matches.length !== 1) throw notFound(matches.length === 0 ? `node ${id} not found` : `node ${id} is ambiguous (${matches.length} matches found)`)
    sendJson(ctx, 200, nodeView(matches[0]!))
  })
}

function nodeView(n: ClusterNode): NodeView {
  return {
    ID: n.ID,
    CreatedAt: n.JoinedAt,
    UpdatedAt: n.LastSeen,
    Spec: { Role: 'worker', Availability: 'active', Labels: {} },
    Description: { Hostname: n.Hostname, Platform: { Architecture: n.Architecture, OS: 'linux' }, Engine: { EngineVersion: n.EngineVersion } },
    Status: { State: 'ready', Addr: n.Addr },
  }
}
