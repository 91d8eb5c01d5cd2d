import type { EngineClient } from '../client/engine-client.ts'
import { ApiError } from '../client/http.ts'
import { label } from './convert.ts'
import { ComposeError } from './errors.ts'
import { imageOf } from './images.ts'
import { type Project, dependencyOrder } from './model.ts'
import { nameOf, projectContainers } from './project-containers.ts'
import type { Report } from './report.ts'

export interface DownOptions {
  volumes: boolean
  removeOrphans: boolean
  timeoutSec?: number | undefined
  /** `--rmi local`: images built for services without an `image:`; `all`: every service's image. */
  rmi?: 'local' | 'all' | undefined
}

/** `down`: the project's containers (dependants stopped first), its networks, and as asked its volumes and images. */
export async function down(client: EngineClient, project: Project, opts: DownOptions, report: Report): Promise<void> {
  const containers = await projectContainers(client, project.name, { oneoff: true })
  const known = new Set([...project.services, ...project.disabled].map((s) => s.name))
  const targets = containers.filter((c) => opts.removeOrphans || known.has(c.Labels[label.service] ?? '') || c.Labels[label.oneoff] === 'True')
  const order = dependencyOrder([...project.services, ...project.disabled]).map((s) => s.name).reverse()
  const rank = (service: string): number => order.indexOf(service)
  // Dependants stop before what they depend on: one rank at a time, the containers of a rank in parallel.
  const ranks = [...new Set(targets.map((c) => rank(c.Labels[label.service] ?? '')))].sort((a, b) => a - b)
  for (const r of ranks) {
    await Promise.all(
      targets.filter((c) => rank(c.Labels[label.service] ?? '') === r).map(async (c) => {
        const name = nameOf(c)
        report(`Container ${name}  Stopping`)
        await client.containers.stop(c.Id, { t: opts.timeoutSec }).catch(() => false)
        report(`Container ${name}  Stopped`)
        await client.containers.remove(c.Id, { force: true, v: false })
        report(`Container ${name}  Removed`)
      }),
    )
  }
  const networks = await client.networks.list({ filters: { label: [`${label.project}=${project.name}`] } })
  for (const n of networks) {
    try {
      await client.networks.remove(n.Id)
      report(`Network ${n.Name}  Removed`)
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) continue
      // Name what keeps it busy, which docker compose does not (docker/compose#12770).
      const busy = Object.values((await client.networks.inspect(n.Id).catch(() => undefined))?.Containers ?? {}).map((c) => c.Name)
      throw new ComposeError(`network ${n.Name} could not be removed${busy.length > 0 ? `: in use by ${busy.join(', ')}` : ''}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  if (opts.volumes) {
    for (const v of (await client.volumes.list({ filters: { label: [`${label.project}=${project.name}`] } })).Volumes) {
      await client.volumes.remove(v.Name)
      report(`Volume ${v.Name}  Removed`)
    }
  }
  if (opts.rmi) {
    const images = new Set([...project.services, ...project.disabled].filter((s) => opts.rmi === 'all' || !s.image).map((s) => imageOf(project, s)))
    for (const image of images) {
      try {
        await client.images.remove(image)
        report(`Image ${image}  Removed`)
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) continue
        throw new ComposeError(`image ${image} could not be removed: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
  }
}
