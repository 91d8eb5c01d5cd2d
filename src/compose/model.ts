import { createHash } from 'node:crypto'
import { ComposeError, type LoadedProject } from './load.ts'
import { KNOWN, labelsOf, normalizeService } from './normalize-service.ts'
import type { ContainerOptions } from './service-options.ts'
import { absolute, mapping } from './values.ts'

export type DependencyCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully'

export interface PortConfig {
  target: number
  published?: string
  host_ip?: string
  protocol: string
  /** Long syntax only: `ingress` (the default) or `host`, a name and an application protocol, for `config` to show. */
  mode?: string
  name?: string
  app_protocol?: string
}

export interface VolumeMount {
  type: 'bind' | 'volume' | 'tmpfs' | 'image'
  /** A host path (bind), a top-level volume's key (volume), an image (image), nothing for an anonymous volume or a tmpfs. */
  source?: string
  target: string
  read_only: boolean
  /** `image.subpath`: the directory of the image to mount. */
  subpath?: string
}

export interface Healthcheck {
  test?: string[]
  interval?: string
  timeout?: string
  start_period?: string
  start_interval?: string
  retries?: number
  disable?: boolean
}

/** A service's use of a secret or config: where it appears in the container, owned and moded how. */
export interface FileReference {
  source: string
  target: string
  uid?: string
  gid?: string
  mode?: number
}

/** A top-level secret or config: a host file, or a value (from the environment, or inline) copied in at start. */
export interface FileObjectConfig {
  name: string
  file?: string
  environment?: string
  content?: string
  external: boolean
}

export type PullPolicy = 'always' | 'never' | 'missing' | 'build'

/** One `develop.watch` rule: what a change under `path` (absolute) does to the service. */
export interface WatchRule {
  path: string
  action: 'sync' | 'rebuild' | 'restart' | 'sync+restart' | 'sync+exec'
  target?: string
  ignore: string[]
  exec?: string[]
  initial_sync?: boolean
}

/** A service's attachment to one network. */
export interface ServiceNetwork {
  aliases: string[]
  ipv4_address?: string
  /** Which network the container joins first (the highest; then by name), as compose's `priority`. */
  priority?: number
  /** The engine's GwPriority: which network gives the default route. */
  gw_priority?: number
}

/** A service's networks in the order compose joins them: the highest `priority` first, then by name. */
export function networksByPriority(s: Pick<ServiceConfig, 'networks'>): string[] {
  return Object.keys(s.networks).sort((a, b) => (s.networks[b]!.priority ?? 0) - (s.networks[a]!.priority ?? 0) || (a < b ? -1 : a > b ? 1 : 0))
}

/** A service in its long, normalised form: what the engine is asked for and what the config hash covers. */
export interface ServiceConfig extends ContainerOptions {
  name: string
  image?: string
  build?: { context: string; dockerfile?: string; args: Record<string, string>; target?: string }
  command?: string[] | null
  entrypoint?: string[] | null
  environment: Record<string, string | null>
  ports: PortConfig[]
  expose: string[]
  volumes: VolumeMount[]
  networks: Record<string, ServiceNetwork>
  network_mode?: string
  depends_on: Record<string, { condition: DependencyCondition; required: boolean; restart: boolean }>
  healthcheck?: Healthcheck
  restart?: string
  labels: Record<string, string>
  container_name?: string
  hostname?: string
  user?: string
  working_dir?: string
  tty: boolean
  stdin_open: boolean
  privileged: boolean
  read_only: boolean
  init?: boolean
  cap_add: string[]
  cap_drop: string[]
  extra_hosts: string[]
  dns: string[]
  stop_signal?: string
  stop_grace_period?: string
  scale: number
  profiles: string[]
  secrets: FileReference[]
  configs: FileReference[]
  /** `service[:ro|rw]` or `container:NAME[:ro|rw]`. */
  volumes_from: string[]
  pull_policy?: PullPolicy
  links: string[]
  develop?: { watch: WatchRule[] }
}

export interface NetworkConfig {
  /** The engine's name for it: `PROJECT_KEY` unless `name` or `external` says otherwise. */
  name: string
  driver?: string
  external: boolean
  internal: boolean
  labels: Record<string, string>
  ipam?: { config: Array<{ subnet?: string; gateway?: string }> }
}

export interface VolumeConfig {
  name: string
  driver?: string
  external: boolean
  labels: Record<string, string>
}

export interface Project {
  name: string
  workingDir: string
  files: string[]
  envFiles: string[]
  services: ServiceConfig[]
  /** Services left out by their profiles: `depends_on` may not name them, `run` may. */
  disabled: ServiceConfig[]
  networks: Record<string, NetworkConfig>
  volumes: Record<string, VolumeConfig>
  secrets: Record<string, FileObjectConfig>
  configs: Record<string, FileObjectConfig>
  /** The shell over the env files: what interpolation saw, and where `environment:` secrets come from. */
  environment: ReadonlyMap<string, string>
  /** The merged, interpolated document it was made from: what `config` prints, in compose's canonical form. */
  document: Record<string, unknown>
}



/**
 * The project in the spec's long form: the default network added, short syntaxes expanded, paths absolute, and
 * services outside the active profiles left out. Unsupported attributes go to `warnings`.
 */
export function normalizeProject(loaded: LoadedProject, opts: { profiles: string[]; warnings: string[] }): Project {
  const doc = loaded.document
  const rawServices = mapping(doc['services'], 'services')
  const services: ServiceConfig[] = []
  const disabled: ServiceConfig[] = []
  for (const [name, raw] of Object.entries(rawServices)) {
    const s = mapping(raw, `services.${name}`)
    for (const k of Object.keys(s)) if (!KNOWN.has(k) && !k.startsWith('x-')) opts.warnings.push(`services.${name}.${k} is not supported yet and is ignored`)
    const svc = normalizeService(name, s, loaded)
    const active = svc.profiles.length === 0 || svc.profiles.some((p) => opts.profiles.includes(p) || opts.profiles.includes('*'))
    ;(active ? services : disabled).push(svc)
  }
  const networks: Record<string, NetworkConfig> = {}
  const rawNetworks = mapping(doc['networks'] ?? {}, 'networks')
  const usesDefault = services.some((s) => !s.network_mode && Object.keys(s.networks).includes('default'))
  if (usesDefault && !rawNetworks['default']) rawNetworks['default'] = {}
  for (const [key, raw] of Object.entries(rawNetworks)) {
    const n = mapping(raw ?? {}, `networks.${key}`)
    const external = n['external'] === true || (typeof n['external'] === 'object' && n['external'] !== null)
    const ipam = n['ipam'] as { config?: Array<{ subnet?: string; gateway?: string }> } | undefined
    // The old `external: {name: …}` names the network it means.
    const externalName = (n['external'] as { name?: unknown } | null | undefined)?.name
    networks[key] = {
      name: typeof n['name'] === 'string' ? n['name'] : typeof externalName === 'string' ? externalName : external ? key : `${loaded.name}_${key}`,
      ...(typeof n['driver'] === 'string' ? { driver: n['driver'] } : {}),
      external,
      internal: n['internal'] === true,
      labels: labelsOf(n['labels'], `networks.${key}.labels`),
      ...(ipam?.config ? { ipam: { config: ipam.config } } : {}),
    }
  }
  const volumes: Record<string, VolumeConfig> = {}
  for (const [key, raw] of Object.entries(mapping(doc['volumes'] ?? {}, 'volumes'))) {
    const v = mapping(raw ?? {}, `volumes.${key}`)
    const external = v['external'] === true || (typeof v['external'] === 'object' && v['external'] !== null)
    const externalName = (v['external'] as { name?: unknown } | null | undefined)?.name
    volumes[key] = {
      name: typeof v['name'] === 'string' ? v['name'] : typeof externalName === 'string' ? externalName : external ? key : `${loaded.name}_${key}`,
      ...(typeof v['driver'] === 'string' ? { driver: v['driver'] } : {}),
      external,
      labels: labelsOf(v['labels'], `volumes.${key}.labels`),
    }
  }
  const secrets = fileObjectsOf(doc['secrets'], 'secrets', loaded)
  const configs = fileObjectsOf(doc['configs'], 'configs', loaded)
  const activeNames = new Set(services.map((s) => s.name))
  for (const s of services) {
    for (const n of Object.keys(s.networks)) if (!networks[n]) throw new ComposeError(`service "${s.name}" refers to undefined network ${n}: invalid compose project`)
    for (const v of s.volumes) if (v.type === 'volume' && v.source && !volumes[v.source]) throw new ComposeError(`service "${s.name}" refers to undefined volume ${v.source}: invalid compose project`)
    for (const r of s.secrets) if (!secrets[r.source]) throw new ComposeError(`service "${s.name}" refers to undefined secret ${r.source}: invalid compose project`)
    for (const r of s.configs) if (!configs[r.source]) throw new ComposeError(`service "${s.name}" refers to undefined config ${r.source}: invalid compose project`)
    for (const [dep, cond] of Object.entries(s.depends_on)) {
      if (!rawServices[dep]) throw new ComposeError(`service "${s.name}" depends on undefined service "${dep}": invalid compose project`)
      if (!activeNames.has(dep) && cond.required) throw new ComposeError(`service "${s.name}" depends on service "${dep}" which is disabled by its profiles`)
    }
    for (const from of s.volumes_from) {
      const [kind, name = ''] = from.split(':')
      if (kind !== 'container' && !rawServices[kind!]) throw new ComposeError(`service "${s.name}" refers to undefined service "${kind}" in volumes_from: invalid compose project`)
      if (kind === 'container' && name === '') throw new ComposeError(`services.${s.name}.volumes_from: invalid "${from}"`)
    }
  }
  return { name: loaded.name, workingDir: loaded.workingDir, files: loaded.files, envFiles: loaded.envFiles, services, disabled, networks, volumes, secrets, configs, environment: loaded.environment, document: loaded.document }
}

function fileObjectsOf(raw: unknown, kind: 'secrets' | 'configs', loaded: LoadedProject): Record<string, FileObjectConfig> {
  const out: Record<string, FileObjectConfig> = {}
  for (const [key, v] of Object.entries(mapping(raw ?? {}, kind))) {
    const o = mapping(v ?? {}, `${kind}.${key}`)
    const external = o['external'] === true
    const cfg: FileObjectConfig = { name: typeof o['name'] === 'string' ? o['name'] : external ? key : `${loaded.name}_${key}`, external }
    if (typeof o['file'] === 'string') cfg.file = absolute(o['file'], loaded.workingDir)
    if (typeof o['environment'] === 'string') cfg.environment = o['environment']
    if (typeof o['content'] === 'string') cfg.content = o['content']
    if (external) throw new ComposeError(`${kind}.${key}: external ${kind} are a swarm feature, not supported without swarm`)
    if (cfg.file === undefined && cfg.environment === undefined && cfg.content === undefined) throw new ComposeError(`${kind}.${key}: one of file, environment${kind === 'configs' ? ', content' : ''} is required`)
    out[key] = cfg
  }
  return out
}


/** The hash compose labels a container with: a changed service config means a new container. */
export function configHash(s: ServiceConfig): string {
  return createHash('sha256').update(canonicalJson({ ...s, scale: undefined })).digest('hex')
}

/**
 * A short hash of each attribute, `name=hash` joined by commas: kept on the container so that a recreation can name
 * what changed, where docker compose only says that something did.
 */
export function attributeHashes(s: ServiceConfig): string {
  return Object.keys(s)
    .filter((k) => k !== 'scale' && k !== 'name' && (s as unknown as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${k}=${createHash('sha256').update(canonicalJson((s as unknown as Record<string, unknown>)[k])).digest('hex').slice(0, 8)}`)
    .join(',')
}

/** The attributes whose hashes differ between two `attributeHashes` values. */
export function changedAttributes(before: string, after: string): string[] {
  const parse = (v: string): Map<string, string> => new Map(v.split(',').filter(Boolean).map((e) => e.split('=') as [string, string]))
  const a = parse(before)
  const b = parse(after)
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort()
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(v)
}

/** The services one needs up before it: `depends_on`, and those whose namespaces, volumes or names it uses. */
export function serviceDependencies(s: ServiceConfig): string[] {
  const deps = new Set(Object.keys(s.depends_on))
  if (s.network_mode?.startsWith('service:')) deps.add(s.network_mode.slice('service:'.length))
  for (const mode of [s.pid, s.ipc]) if (mode?.startsWith('service:')) deps.add(mode.slice('service:'.length))
  for (const from of s.volumes_from) if (!from.startsWith('container:')) deps.add(from.split(':')[0]!)
  for (const l of s.links) deps.add(l.split(':')[0]!)
  return [...deps]
}

/** Services in an order where each comes after what it depends on; a cycle is named. */
export function dependencyOrder(services: readonly ServiceConfig[]): ServiceConfig[] {
  const byName = new Map(services.map((s) => [s.name, s]))
  const out: ServiceConfig[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (s: ServiceConfig, chain: string[]): void => {
    if (state.get(s.name) === 'done') return
    if (state.get(s.name) === 'visiting') throw new ComposeError(`dependency cycle detected: ${[...chain, s.name].join(' -> ')}`)
    state.set(s.name, 'visiting')
    const deps = serviceDependencies(s)
    for (const d of deps) {
      const dep = byName.get(d)
      if (dep) visit(dep, [...chain, s.name])
    }
    state.set(s.name, 'done')
    out.push(s)
  }
  for (const s of services) visit(s, [])
  return out
}
