import type { EngineClient } from '../client/engine-client.ts'
import type { ContainerSummary } from '../wire/types.ts'
import { waitForCondition } from './conditions.ts'
import { containerName, createBody, label } from './convert.ts'
import { ComposeError } from './errors.ts'
import { copyFileObjects } from './file-objects.ts'
import { ensureImage, imageOf } from './images.ts'
import { type Project, type PullPolicy, type ServiceConfig, attributeHashes, changedAttributes, configHash, dependencyOrder, networksByPriority, serviceDependencies } from './model.ts'
import { nameOf, numberOf, projectContainers } from './project-containers.ts'
import type { Report } from './report.ts'
import { ensureNetworks, ensureVolumes } from './resources.ts'

export type { Report } from './report.ts'

export interface UpOptions {
  build: boolean
  noBuild: boolean
  pull?: PullPolicy | undefined
  forceRecreate: boolean
  noRecreate: boolean
  removeOrphans: boolean
  /** Create, do not start. */
  noStart: boolean
  /** Say what would be done, do nothing. */
  dryRun: boolean
  /** Seconds a container being recreated gets to stop. */
  timeoutSec?: number | undefined
  /** Give up waiting on a dependency's condition after this long. */
  waitTimeoutMs: number
  /** How many services converge at once (`--parallel`, COMPOSE_PARALLEL_LIMIT). */
  parallel: number
  /** `--scale SERVICE=N`, over the file's scale. */
  scale: Record<string, number>
}

export const defaultUpOptions: UpOptions = {
  build: false, noBuild: false, forceRecreate: false, noRecreate: false, removeOrphans: false, noStart: false, dryRun: false,
  waitTimeoutMs: 120_000, parallel: Number.POSITIVE_INFINITY, scale: {},
}

/**
 * The project restricted to the services named and, unless `noDeps`, what they depend on; all services without
 * names. A service left out by its profiles can be named, which enables it.
 */
export function selectServices(project: Project, names: readonly string[], noDeps: boolean): Project {
  if (names.length === 0) return project
  const all = new Map([...project.disabled, ...project.services].map((s) => [s.name, s]))
  const wanted = new Set<string>()
  const add = (name: string, direct: boolean): void => {
    if (wanted.has(name)) return
    const s = all.get(name)
    if (!s) {
      if (direct) throw new ComposeError(`no such service: ${name}`)
      return
    }
    wanted.add(name)
    if (!noDeps) for (const d of serviceDependencies(s)) add(d, false)
  }
  for (const n of names) add(n, true)
  return { ...project, services: [...all.values()].filter((s) => wanted.has(s.name)) }
}

/**
 * `up`: creates the project's missing networks and volumes and makes every image present (a failed build or pull
 * stops here, before any container changes); then converges the services, independent ones in parallel and each
 * after what it depends on has met its condition: a container whose config and image are unchanged is kept
 * (started if it stopped), the others are recreated, saying which attributes changed.
 */
export async function up(client: EngineClient, project: Project, opts: UpOptions, report: Report): Promise<void> {
  const order = dependencyOrder(project.services)
  await ensureNetworks(client, project, report, opts.dryRun)
  await ensureVolumes(client, project, report, opts.dryRun)
  const limit = limiter(opts.parallel)
  // Services sharing an image (busybox twenty times) make it present, and inspect it, once.
  const byImage = new Map<string, Promise<string | undefined>>()
  const imageIds = new Map<string, string | undefined>()
  await Promise.all(
    order.map(async (s) => {
      const key = s.build ? `build:${s.name}` : imageOf(project, s)
      let id = byImage.get(key)
      if (!id) {
        id = limit(async () => {
          const image = await ensureImage(client, project, s, opts, report)
          return opts.dryRun ? undefined : (await client.images.inspect(image)).Id
        })
        byImage.set(key, id)
      }
      imageIds.set(s.name, await id)
    }),
  )
  const existing = await projectContainers(client, project.name)
  const recreated = new Set<string>()
  const selected = new Set(project.services.map((s) => s.name))
  const converged = new Map<string, Promise<void>>()
  const converge = (s: ServiceConfig): Promise<void> => {
    let p = converged.get(s.name)
    if (!p) {
      p = (async () => {
        await Promise.all(serviceDependencies(s).filter((d) => selected.has(d)).map((d) => converge(project.services.find((x) => x.name === d)!)))
        if (!opts.dryRun && !opts.noStart) {
          for (const [dep, cond] of Object.entries(s.depends_on)) {
            if (!selected.has(dep) && !cond.required) continue
            await waitForCondition(client, project.name, dep, cond.condition, opts.waitTimeoutMs, report)
          }
        }
        await limit(() => convergeService(client, project, s, existing, imageIds.get(s.name), recreated, opts, report))
      })()
      converged.set(s.name, p)
    }
    return p
  }
  const results = await Promise.allSettled(order.map(converge))
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
  await handleOrphans(client, project, existing, opts, report)
}

async function convergeService(
  client: EngineClient,
  project: Project,
  s: ServiceConfig,
  existing: ContainerSummary[],
  imageId: string | undefined,
  recreated: Set<string>,
  opts: UpOptions,
  report: Report,
): Promise<void> {
  const image = imageOf(project, s)
  const scale = opts.scale[s.name] ?? s.scale
  const mine = existing.filter((c) => c.Labels[label.service] === s.name).sort((a, b) => numberOf(a) - numberOf(b))
  const sharedWith = namespaceSources(s).filter((d) => recreated.has(d))
  await Promise.all(
    Array.from({ length: scale }, async (_, i) => {
      const n = i + 1
      const current = mine.find((c) => numberOf(c) === n)
      const name = containerName(project, s, n)
      if (current) {
        const why = opts.forceRecreate ? 'forced' : sharedWith.length > 0 ? `${sharedWith.join(', ')} recreated, whose namespaces or volumes it shares` : recreateReason(current, s, imageId)
        if (!why || opts.noRecreate) {
          if (current.State === 'running' || opts.noStart) report(`Container ${name}  Running`)
          else {
            report(`Container ${name}  Starting`)
            if (!opts.dryRun) await client.containers.start(current.Id)
            report(`Container ${name}  Started`)
          }
          return
        }
        recreated.add(s.name)
        report(`Container ${name}  Recreate (${why})`)
        if (!opts.dryRun) {
          await client.containers.stop(current.Id, { t: opts.timeoutSec }).catch(() => false)
          await client.containers.remove(current.Id, { force: true })
        }
      }
      report(`Container ${name}  Creating`)
      if (opts.dryRun) {
        report(`Container ${name}  Created`)
        return
      }
      const { Id } = await client.containers.create(createBody(project, s, n, image), { name })
      for (const extra of networksByPriority(s).slice(1)) {
        const net = s.networks[extra]!
        await client.networks.connect(project.networks[extra]!.name, Id, {
          Aliases: [s.name, ...net.aliases],
          ...(net.ipv4_address ? { IPAMConfig: { IPv4Address: net.ipv4_address } } : {}),
          ...(net.gw_priority ? { GwPriority: net.gw_priority } : {}),
        })
      }
      await copyFileObjects(client, project, s, Id, project.environment)
      report(`Container ${name}  Created`)
      if (opts.noStart) return
      report(`Container ${name}  Starting`)
      await client.containers.start(Id)
      report(`Container ${name}  Started`)
    }),
  )
  // Scaled down: the highest numbers go.
  for (const extra of mine.filter((c) => numberOf(c) > scale).reverse()) {
    report(`Container ${nameOf(extra)}  Stopping`)
    if (opts.dryRun) continue
    await client.containers.stop(extra.Id, { t: opts.timeoutSec }).catch(() => false)
    await client.containers.remove(extra.Id, { force: true })
    report(`Container ${nameOf(extra)}  Removed`)
  }
}

async function handleOrphans(client: EngineClient, project: Project, existing: ContainerSummary[], opts: UpOptions, report: Report): Promise<void> {
  const known = new Set([...project.services, ...project.disabled].map((s) => s.name))
  const orphans = existing.filter((c) => !known.has(c.Labels[label.service] ?? ''))
  if (orphans.length === 0) return
  if (!opts.removeOrphans) {
    report(`Found orphan containers ([${orphans.map(nameOf).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`)
    return
  }
  for (const o of orphans) {
    report(`Container ${nameOf(o)}  Removing`)
    if (opts.dryRun) continue
    await client.containers.remove(o.Id, { force: true })
    report(`Container ${nameOf(o)}  Removed`)
  }
}

/** The services whose namespaces or volumes a service's containers use: recreating one means recreating it. */
function namespaceSources(s: ServiceConfig): string[] {
  const out = [s.network_mode, s.pid, s.ipc].filter((m): m is string => m?.startsWith('service:') === true).map((m) => m.slice('service:'.length))
  for (const from of s.volumes_from) if (!from.startsWith('container:')) out.push(from.split(':')[0]!)
  return out
}

/** Why a container no longer matches its service, or undefined when it still does. */
function recreateReason(c: ContainerSummary, s: ServiceConfig, imageId: string | undefined): string | undefined {
  if (c.Labels[label.configHash] !== configHash(s)) {
    const changed = changedAttributes(c.Labels[label.attributeHashes] ?? '', attributeHashes(s))
    return c.Labels[label.attributeHashes] !== undefined && changed.length > 0 ? `${changed.join(', ')} changed` : 'config changed'
  }
  if (imageId && c.ImageID && c.ImageID !== imageId) return 'image updated'
  return undefined
}

/** Runs at most `n` of the tasks given to it at once. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0
  const queue: Array<() => void> = []
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((r) => queue.push(r))
    running++
    try {
      return await task()
    } finally {
      running--
      queue.shift()?.()
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
  publish: boolean
  waitTimeoutMs: number
}

/**
 * `run`: the service's dependencies brought up (unless `noDeps`) and their conditions met, then a one-off container
 * of the service (`PROJECT-SERVICE-run-XXXXXX`, `oneoff=True`, ports published only with `--service-ports`)
 * created, not started. Returns its ID.
 */
export async function createOneOff(client: EngineClient, project: Project, service: string, opts: RunOptions, report: Report): Promise<{ id: string; name: string }> {
  const withDeps = selectServices(project, [service], opts.noDeps)
  const s = withDeps.services.find((x) => x.name === service)!
  const deps = { ...withDeps, services: withDeps.services.filter((x) => x.name !== service) }
  if (deps.services.length > 0) {
    await up(client, deps, defaultUpOptions, report)
    for (const [dep, cond] of Object.entries(s.depends_on)) await waitForCondition(client, project.name, dep, cond.condition, opts.waitTimeoutMs, report)
  }
  const own = { ...project, services: [s] }
  await ensureNetworks(client, own, report)
  await ensureVolumes(client, own, report)
  const image = await ensureImage(client, project, s, { build: false }, report)
  const oneOff: ServiceConfig = {
    ...s,
    ports: opts.publish ? s.ports : [],
    container_name: undefined,
    environment: { ...s.environment, ...Object.fromEntries(opts.env.map((e) => [e.split('=')[0]!, e.includes('=') ? e.slice(e.indexOf('=') + 1) : (process.env[e] ?? null)])) },
    ...(opts.command ? { command: opts.command } : {}),
    ...(opts.entrypoint ? { entrypoint: opts.entrypoint } : {}),
    ...(opts.user ? { user: opts.user } : {}),
    ...(opts.workdir ? { working_dir: opts.workdir } : {}),
    tty: opts.tty,
    stdin_open: opts.interactive,
    restart: undefined,
  }
  const name = opts.name ?? `${project.name}-${s.name}-run-${Math.random().toString(16).slice(2, 14).padEnd(12, '0')}`
  const body = createBody(project, oneOff, 1, image)
  body.Labels = { ...body.Labels, [label.oneoff]: 'True', 'com.docker.compose.slug': name.split('-').at(-1)! }
  body.AttachStdin = opts.interactive
  body.AttachStdout = true
  body.AttachStderr = true
  body.StdinOnce = opts.interactive
  const { Id } = await client.containers.create(body, { name })
  await copyFileObjects(client, project, s, Id, project.environment)
  return { id: Id, name }
}
