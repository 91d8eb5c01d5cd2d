import { CaisError, notFound } from '../../lib/errors.ts'
import { sendJson } from '../context.ts'
import type { Routes } from '../router.ts'

/**
 * cais has no swarm mode and no plugins. Their routes answer as Docker's engine does on a node outside any
 * swarm, with no plugin installed: clients (and test teardowns calling `swarm leave --force`) recognise exactly
 * these statuses and messages, where a 404 `page not found` reads as a broken daemon.
 */
export function swarmRoutes(routes: Routes): void {
  const notManager = (): never => {
    throw new CaisError(
      'unavailable',
      'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.',
    )
  }
  const notInSwarm = (): never => {
    throw new CaisError('unavailable', 'This node is not part of a swarm')
  }
  const noSwarmMode = (): never => {
    throw new CaisError('not-implemented', 'swarm mode is not supported by cais')
  }

  routes.get('/swarm', async () => notManager())
  routes.get('/swarm/unlockkey', async () => notManager())
  routes.post('/swarm/update', async () => notManager())
  routes.post('/swarm/unlock', async () => notInSwarm())
  routes.post('/swarm/leave', async () => notInSwarm())
  routes.post('/swarm/init', async () => noSwarmMode())
  routes.post('/swarm/join', async () => noSwarmMode())

  // Every object a manager keeps: listing, creating, inspecting, updating and removing need a manager.
  for (const kind of ['nodes', 'services', 'tasks', 'secrets', 'configs']) {
    routes.get(`/${kind}`, async () => notManager())
    routes.post(`/${kind}/create`, async () => notManager())
    routes.get(`/${kind}/{id}`, async () => notManager())
    routes.post(`/${kind}/{id}/update`, async () => notManager())
    routes.delete(`/${kind}/{id}`, async () => notManager())
  }
  routes.get('/services/{id}/logs', async () => notManager())
  routes.get('/tasks/{id}/logs', async () => notManager())

  const noPlugin = (name: string): never => {
    throw notFound(`plugin "${name}" not found`)
  }
  const noPlugins = (): never => {
    throw new CaisError('not-implemented', 'plugins are not supported by cais')
  }
  routes.get('/plugins', async (ctx) => sendJson(ctx, 200, []))
  routes.get('/plugins/privileges', async () => noPlugins())
  routes.post('/plugins/pull', async () => noPlugins())
  routes.post('/plugins/create', async () => noPlugins())
  routes.get('/plugins/{name*}/json', async (ctx) => noPlugin(ctx.params['name']!))
  routes.delete('/plugins/{name*}', async (ctx) => noPlugin(ctx.params['name']!))
  for (const action of ['enable', 'disable', 'upgrade', 'push', 'set']) {
    routes.post(`/plugins/{name*}/${action}`, async (ctx) => noPlugin(ctx.params['name']!))
  }
}
