import type { EngineClient } from '../client/engine-client.ts'
import { ApiError } from '../client/http.ts'
import { prepareContext } from '../lib/build-context.ts'
import { splitImageName } from '../lib/image-name.ts'
import type { ContainerSummary } from '../wire/types.ts'
import { COMPOSE_VERSION, containerName, createBody, label } from './convert.ts'
import { ComposeError } from './load.ts'
import { type Project, type ServiceConfig, configHash, dependencyOrder } from './model.ts'

/** What `up` reports as it goes: one line per object, as docker compose prints its progress. */
export type Report = (line: string) => void

export interface UpOptions {
  build: boolean
  forceRecreate: boolean
  noRecreate: boolean
  removeOrphans: boolean
  /** Give up waiting on a dependency's condition after this long. */
  waitTimeoutMs: number
}

/** The project's containers (one-off ones left out), by service. */
export async function projectContainers(client: EngineClient, project: string, opts: { all?: boolean; oneoff?: boolean } = {}): Promise<ContainerSummary[]> {
  const filters = { label: [`${label.project}=${project}`, ...(opts.oneoff ? [] : [`${label.oneoff}=False`])] }
  return client.containers.list({ all: opts.all ?? true, filters })
}

/**
 * `up -d`: creates the project's networks and volumes that are missing; then, service after service in dependency
 * order, keeps each container whose config hash and image are unchanged (starting it if it stopped), and recreates
 * the others, saying why. A dependency's condition (started, healthy, completed) is met before a dependant starts.
 */
export async function up(client: EngineClient, project: Project, opts: UpOptions, report: Report): Promise<void> {
  await ensureNetworks(client, project, report)
  await ensureVolumes(client, project, report)
  const existing = await projectContainers(client, project.name)
  for (const s of dependencyOrder(project.services)) {
    const image = await ensureImage(client, project, s, opts, report)
    const imageId = (await client.images.inspect(image)).Id
    for (const [dep, cond] of Object.entries(s.depends_on)) await waitForCondition(client, project, dep, cond.condition, opts.waitTimeoutMs, report)
    const mine = existing.filter((c) => c.Labels[label.service] === s.name).sort((a, b) => numberOf(a) - numberOf(b))
    for (let n = 1; n <= s.scale; n++) {
      const current = mine.find((c) => numberOf(c) === n)
      const name = containerName(project, s, n)
      if (current) {
        const why = recreateReason(current, s, imageId)
        if (!why || opts.noRecreate) {
          if (current.State !== 'running') {
            report(`Container ${name}  Starting`)
            await client.containers.start(current.Id)
            report(`Container ${name}  Started`)
          } else report(`Container ${name}  Running`)
          continue
        }
        if (!opts.forceRecreate || why) report(`Container ${name}  Recreate (${opts.forceRecreate ? 'forced' : why})`)
        await client.containers.stop(current.Id).catch(() => false)
        await client.containers.remove(current.Id, { force: true })
      }
      report(`Container ${name}  Creating`)
      const { Id } = await client.containers.create(createBody(project, s, n, image), { name })
      for (const extra of Object.keys(s.networks).slice(1)) {
        const net = s.networks[extra]!
        await client.networks.connect(project.networks[extra]!.name, Id, { Aliases: [s.name, ...net.aliases], ...(net.ipv4_address ? { IPAMConfig: { IPv4Address: net.ipv4_address } } : {}) })
      }
      report(`Container ${name}  Created`)
      report(`Container ${name}  Starting`)
      await client.containers.start(Id)
      report(`Container ${name}  Started`)
    }
    // Scaled down: the highest numbers go.
    for (const extra of mine.filter((c) => numberOf(c) > s.scale)) {
      await client.containers.remove(extra.Id, { force: true })
      report(`Container ${extra.Names[0]?.slice(1) ?? extra.Id}  Removed`)
    }
  }
  const known = new Set(project.services.map((s) => s.name))
  const orphans = existing.filter((c) => !known.has(c.Labels[label.service] ?? ''))
  if (orphans.length > 0) {
    if (opts.removeOrphans) {
      for (const o of orphans) {
        await client.containers.remove(o.Id, { force: true })
        report(`Container ${o.Names[0]?.slice(1) ?? o.Id}  Removed`)
      }
    } else {
      report(`Found orphan containers (${orphans.map((o) => o.Names[0]?.slice(1)).join(', ')}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`)
    }
  }
}

export interface RunOptions {
  command: string[] | undefined
  entrypoint: string[] | undefined
  env: string[]
  name: string | undefined
  user: string | undefined
  workdir: string | undefined
  tty: boolean
  interactive: boolean
  noDeps: boolean
  waitTimeoutMs: number
}

/**
 * `run`: the service's dependencies brought up (unless `noDeps`) and their conditions met, then a one-off container
 * of the service (`PROJECT-SERVICE-run-XXXXXX`, `oneoff=True`, no published ports) created, not started. Returns its ID.
 */
export async function createOneOff(client: EngineClient, project: Project, service: string, opts: RunOptions, report: Report): Promise<{ id: string; name: string }> {
  const s = project.services.find((x) => x.name === service)
  if (!s) throw new ComposeError(`no such service: ${service}`)
  if (!opts.noDeps) {
    const needed = new Set<string>()
    const add = (name: string): void => {
      for (const d of Object.keys(project.services.find((x) => x.name === name)?.depends_on ?? {})) {
        if (needed.has(d)) continue
        needed.add(d)
        add(d)
      }
    }
    add(service)
    if (needed.size > 0) {
      const deps = { ...project, services: project.services.filter((x) => needed.has(x.name)) }
      await up(client, deps, { build: false, forceRecreate: false, noRecreate: false, removeOrphans: false, waitTimeoutMs: opts.waitTimeoutMs }, report)
    }
    for (const [dep, cond] of Object.entries(s.depends_on)) await waitForCondition(client, project, dep, cond.condition, opts.waitTimeoutMs, report)
  } else {
    await ensureNetworks(client, { ...project, services: [s] }, report)
    await ensureVolumes(client, { ...project, services: [s] }, report)
  }
  const image = await ensureImage(client, project, s, { build: false, forceRecreate: false, noRecreate: false, removeOrphans: false, waitTimeoutMs: opts.waitTimeoutMs }, report)
  const oneOff: ServiceConfig = {
    ...s,
    ports: [],
    container_name: undefined,
    environment: { ...s.environment, ...Object.fromEntries(opts.env.map((e) => [e.split('=')[0]!, e.includes('=') ? e.slice(e.indexOf('=') + 1) : null])) },
    ...(opts.command ? { command: opts.command } : {}),
    ...(opts.entrypoint ? { entrypoint: opts.entrypoint } : {}),
    ...(opts.user ? { user: opts.user } : {}),
    ...(opts.workdir ? { working_dir: opts.workdir } : {}),
    tty: opts.tty,
    stdin_open: opts.interactive,
    restart: undefined,
  }
  const name = opts.name ?? `${project.name}-${s.name}-run-${Math.random().toString(16).slice(2, 8).padEnd(6, '0')}`
  const body = createBody(project, oneOff, 1, image)
  body.Labels = { ...body.Labels, [label.oneoff]: 'True' }
  body.AttachStdin = opts.interactive
  body.AttachStdout = true
  body.AttachStderr = true
  body.StdinOnce = opts.interactive
  const { Id } = await client.containers.create(body, { name })
  return { id: Id, name }
}

const numberOf = (c: ContainerSummary): number => Number(c.Labels[label.number] ?? '1')

/** Why a container no longer matches its service, or undefined when it still does. */
function recreateReason(c: ContainerSummary, s: ServiceConfig, imageId: string): string | undefined {
  if (c.Labels[label.configHash] !== configHash(s)) return 'config changed'
  if (c.ImageID && c.ImageID !== imageId) return 'image updated'
  return undefined
}

async function ensureNetworks(client: EngineClient, project: Project, report: Report): Promise<void> {
  const used = new Set(project.services.flatMap((s) => Object.keys(s.networks)))
  for (const [key, n] of Object.entries(project.networks)) {
    if (!used.has(key)) continue
    const found = (await client.networks.list({ filters: { name: [n.name] } })).find((x) => x.Name === n.name)
    if (found) continue
    if (n.external) throw new ComposeError(`network ${n.name} declared as external, but could not be found`)
    report(`Network ${n.name}  Creating`)
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

async function ensureVolumes(client: EngineClient, project: Project, report: Report): Promise<void> {
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
    await client.volumes.create({ Name: v.name, ...(v.driver ? { Driver: v.driver } : {}), Labels: { ...v.labels, [label.project]: project.name, [label.volume]: key, [label.version]: COMPOSE_VERSION } })
    report(`Volume "${v.name}"  Created`)
  }
}

/** The image a service runs: its `image`, built first when it has a `build` (and is missing, or `--build`). */
async function ensureImage(client: EngineClient, project: Project, s: ServiceConfig, opts: UpOptions, report: Report): Promise<string> {
  const image = s.image ?? `${project.name}-${s.name}`
  const present = await client.images.inspect(image).then(() => true, (err: unknown) => {
    if (err instanceof ApiError && err.status === 404) return false
    throw err
  })
  if (s.build && (opts.build || !present)) {
    await buildService(client, s, image, report)
    return image
  }
  if (!present) {
    report(`Image ${image}  Pulling`)
    const { image: name, tag } = splitImageName(image)
    const stream = await client.images.pull(name, { tag: tag ?? 'latest' })
    for await (const m of stream) if (m.errorDetail || m.error) throw new ComposeError(`service "${s.name}": pull of ${image} failed: ${m.errorDetail?.message ?? m.error}`)
    report(`Image ${image}  Pulled`)
  }
  return image
}

/** `build:` through the engine's `/build`, as `docker compose build` does with the classic builder. */
export async function buildService(client: EngineClient, s: ServiceConfig, image: string, report: Report): Promise<void> {
  const b = s.build!
  report(`Service ${s.name}  Building`)
  const ctx = await prepareContext(b.context, b.dockerfile ? (b.dockerfile.startsWith('/') ? b.dockerfile : `${b.context}/${b.dockerfile}`) : undefined, process.stdin)
  try {
    const messages = await client.images.build(ctx.tar, { t: [image], dockerfile: ctx.dockerfile, buildargs: JSON.stringify(b.args), target: b.target })
    for await (const m of messages) {
      if (m.errorDetail || m.error) throw new ComposeError(`failed to build service "${s.name}": ${m.errorDetail?.message ?? m.error}`)
    }
  } finally {
    await ctx.cleanup()
  }
  report(`Service ${s.name}  Built`)
}

/** Waits for a dependency to reach its condition; a dependency that cannot gets named in the error. */
async function waitForCondition(client: EngineClient, project: Project, dep: string, condition: string, timeoutMs: number, report: Report): Promise<void> {
  if (condition === 'service_started') return
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const containers = (await projectContainers(client, project.name)).filter((c) => c.Labels[label.service] === dep)
    const states = await Promise.all(containers.map((c) => client.containers.inspect(c.Id)))
    if (condition === 'service_healthy') {
      if (states.some((st) => st.State.Health?.Status === 'unhealthy')) throw new ComposeError(`dependency failed to start: container ${states[0]!.Name.slice(1)} is unhealthy`)
      if (states.length > 0 && states.every((st) => st.State.Health?.Status === 'healthy')) {
        report(`Container ${states[0]!.Name.slice(1)}  Healthy`)
        return
      }
    } else if (condition === 'service_completed_successfully') {
      const failed = states.find((st) => !st.State.Running && st.State.ExitCode !== 0)
      if (failed) throw new ComposeError(`service "${dep}" didn't complete successfully: exit ${failed.State.ExitCode}`)
      if (states.length > 0 && states.every((st) => !st.State.Running && st.State.Status === 'exited')) {
        report(`Container ${states[0]!.Name.slice(1)}  Exited`)
        return
      }
    }
    if (Date.now() > deadline) throw new ComposeError(`timed out waiting for service "${dep}" to be ${condition.replace('service_', '').replace('_', ' ')}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** `down`: the project's containers (stopped, then removed), its networks, and with `volumes` its volumes. */
export async function down(client: EngineClient, project: Project, opts: { volumes: boolean; removeOrphans: boolean; timeoutSec?: number | undefined }, report: Report): Promise<void> {
  const containers = await projectContainers(client, project.name, { oneoff: true })
  const known = new Set(project.services.map((s) => s.name))
  const targets = containers.filter((c) => opts.removeOrphans || known.has(c.Labels[label.service] ?? '') || c.Labels[label.oneoff] === 'True')
  // Dependants stop first.
  const order = dependencyOrder(project.services).map((s) => s.name).reverse()
  targets.sort((a, b) => order.indexOf(a.Labels[label.service] ?? '') - order.indexOf(b.Labels[label.service] ?? ''))
  await Promise.all(
    targets.map(async (c) => {
      const name = c.Names[0]?.slice(1) ?? c.Id
      report(`Container ${name}  Stopping`)
      await client.containers.stop(c.Id, { t: opts.timeoutSec }).catch(() => false)
      report(`Container ${name}  Stopped`)
      await client.containers.remove(c.Id, { force: true, v: false })
      report(`Container ${name}  Removed`)
    }),
  )
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
}
