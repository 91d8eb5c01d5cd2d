import type { EngineClient } from '../client/engine-client.ts'
import { ApiError } from '../client/http.ts'
import { COMPOSE_VERSION, label } from './convert.ts'
import { ComposeError } from './errors.ts'
import type { Project } from './model.ts'
import type { Report } from './report.ts'

/** Creates the networks the project's services use that do not exist yet; an external one must exist. */
export async function ensureNetworks(client: EngineClient, project: Project, report: Report, dryRun = false): Promise<void> {
  const used = new Set(project.services.flatMap((s) => Object.keys(s.networks)))
  for (const [key, n] of Object.entries(project.networks)) {
    if (!used.has(key)) continue
    const found = (await client.networks.list({ filters: { name: [n.name] } })).find((x) => x.Name === n.name)
    if (found) continue
    if (n.external) throw new ComposeError(`network ${n.name} declared as external, but could not be found`)
    report(`Network ${n.name}  Creating`)
    if (dryRun) continue
    await client.networks.create({
      Name: n.name,
      Driver: n.driver ?? 'bridge',
      Internal: n.internal,
      Labels: { ...n.labels, [label.project]: project.name, [label.network]: key, [label.version]: COMPOSE_VERSION },
      ...(n.ipam ? { IPAM: { Driver: 'default', Config: n.ipam.config.map((c) => ({ ...(c.subnet ? { Subnet: c.subnet } : {}), ...(c.gateway ? { Gateway: c.gateway } : {}) })) } } : {}),
    })
    report(`Network ${n.name}  Created`)
  }
}

/** Creates the named volumes the project's services use that do not exist yet; an external one must exist. */
export async function ensureVolumes(client: EngineClient, project: Project, report: Report, dryRun = false): Promise<void> {
  const used = new Set(project.services.flatMap((s) => s.volumes.filter((v) => v.type === 'volume' && v.source).map((v) => v.source!)))
  for (const [key, v] of Object.entries(project.volumes)) {
    if (!used.has(key)) continue
    const found = await client.volumes.inspect(v.name).catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 404) return undefined
      throw err
    })
    if (found) continue
    if (v.external) throw new ComposeError(`external volume "${v.name}" not found`)
    report(`Volume "${v.name}"  Creating`)
    if (dryRun) continue
    await client.volumes.create({ Name: v.name, ...(v.driver ? { Driver: v.driver } : {}), Labels: { ...v.labels, [label.project]: project.name, [label.volume]: key, [label.version]: COMPOSE_VERSION } })
    report(`Volume "${v.name}"  Created`)
  }
}
