import { parseGoDuration } from '../lib/time.ts'
import type { ContainerCreateBody, RestartPolicy } from '../wire/types.ts'
import { type Project, type ServiceConfig, attributeHashes, configHash, networksByPriority } from './model.ts'
import { engineFieldsOf } from './service-options.ts'

/** The version compose's labels carry; docker compose v2 reads `com.docker.compose.version`. */
export const COMPOSE_VERSION = '2.29.0'

export const label = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  oneoff: 'com.docker.compose.oneoff',
  configHash: 'com.docker.compose.config-hash',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  environmentFile: 'com.docker.compose.project.environment_file',
  dependsOn: 'com.docker.compose.depends_on',
  image: 'com.docker.compose.image',
  version: 'com.docker.compose.version',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
  /** Ours: which attributes a recreation changed (see attributeHashes). */
  attributeHashes: 'io.cais.compose.attribute-hashes',
} as const

/** `PROJECT-SERVICE-N`, or the service's `container_name`. */
export function containerName(project: Project, s: ServiceConfig, n: number): string {
  return s.container_name ?? `${project.name}-${s.name}-${n}`
}

/** The Engine API create body of one container of a service: its config, its first network, and compose's labels. */
export function createBody(project: Project, s: ServiceConfig, n: number, image: string): ContainerCreateBody {
  const ports = s.ports.map((p) => `${p.target}/${p.protocol}`)
  const portBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {}
  for (const p of s.ports) (portBindings[`${p.target}/${p.protocol}`] ??= []).push({ HostIp: p.host_ip ?? '', HostPort: p.published ?? '' })
  const first = networksByPriority(s)[0]
  const networkMode = s.network_mode ?? (first ? project.networks[first]!.name : 'default')
  const mounts: Array<Record<string, unknown>> = s.volumes.map((v) => ({
    Type: v.type,
    ...(v.source !== undefined ? { Source: v.type === 'volume' ? project.volumes[v.source]!.name : v.source } : {}),
    Target: v.target,
    ReadOnly: v.read_only,
    ...(v.subpath ? { ImageOptions: { Subpath: v.subpath } } : {}),
  }))
  // Secrets and configs kept in host files are bind-mounted read-only; the others are copied in before start.
  for (const [refs, objects] of [[s.secrets, project.secrets], [s.configs, project.configs]] as const) {
    for (const r of refs) {
      const file = objects[r.source]?.file
      if (file !== undefined) mounts.push({ Type: 'bind', Source: file, Target: r.target, ReadOnly: true })
    }
  }
  const engine = engineFieldsOf(s)
  const volumesFrom = s.volumes_from.map((from) => {
    if (from.startsWith('container:')) return from.slice('container:'.length)
    const [service, mode] = from.split(':') as [string, string | undefined]
    const source = project.services.find((x) => x.name === service)
    return `${source ? containerName(project, source, 1) : `${project.name}-${service}-1`}${mode ? `:${mode}` : ''}`
  })
  const links = s.links.map((l) => {
    const [service, alias = service] = l.split(':') as [string, string | undefined]
    const target = project.services.find((x) => x.name === service)
    return `${target ? containerName(project, target, 1) : service}:${alias}`
  })
  const labels: Record<string, string> = {
    ...s.labels,
    [label.project]: project.name,
    [label.service]: s.name,
    [label.number]: String(n),
    [label.oneoff]: 'False',
    [label.configHash]: configHash(s),
    [label.attributeHashes]: attributeHashes(s),
    [label.workingDir]: project.workingDir,
    [label.configFiles]: project.files.join(','),
    [label.environmentFile]: project.envFiles.join(','),
    [label.dependsOn]: Object.entries(s.depends_on).map(([d, c]) => `${d}:${c.condition}:${c.restart}`).join(','),
    [label.image]: image,
    [label.version]: COMPOSE_VERSION,
  }
  const body: ContainerCreateBody = {
    Image: image,
    Env: Object.entries(s.environment).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`),
    Labels: labels,
    Tty: s.tty,
    OpenStdin: s.stdin_open,
    ...(s.command !== undefined ? { Cmd: s.command } : {}),
    ...(s.entrypoint !== undefined ? { Entrypoint: s.entrypoint ?? [''] } : {}),
    ...(s.hostname ? { Hostname: s.hostname } : {}),
    ...(s.user ? { User: s.user } : {}),
    ...(s.working_dir ? { WorkingDir: s.working_dir } : {}),
    ...(s.stop_signal ? { StopSignal: s.stop_signal } : {}),
    ...(s.stop_grace_period ? { StopTimeout: Math.round((parseGoDuration(s.stop_grace_period) ?? 10_000) / 1000) } : {}),
    ...(ports.length > 0 || s.expose.length > 0 ? { ExposedPorts: Object.fromEntries([...ports, ...s.expose.map((e) => (e.includes('/') ? e : `${e}/tcp`))].map((p) => [p, {}])) } : {}),
    ...(s.healthcheck ? { Healthcheck: healthOf(s) } : {}),
    ...engine.config,
    HostConfig: {
      ...engine.host,
      ...namespaceModes(project, s),
      ...(volumesFrom.length > 0 ? { VolumesFrom: volumesFrom } : {}),
      ...(links.length > 0 ? { Links: links } : {}),
      NetworkMode: networkMode.startsWith('service:') ? `container:${containerName(project, project.services.find((x) => x.name === networkMode.slice(8)) ?? s, 1)}` : networkMode,
      PortBindings: portBindings,
      Mounts: mounts,
      Privileged: s.privileged,
      ReadonlyRootfs: s.read_only,
      CapAdd: s.cap_add,
      CapDrop: s.cap_drop,
      ExtraHosts: s.extra_hosts,
      Dns: s.dns,
      ...(s.init !== undefined ? { Init: s.init } : {}),
      ...(s.restart ? { RestartPolicy: restartOf(s.restart) } : {}),
    },
  }
  if (first && !s.network_mode) {
    const net = s.networks[first]!
    body.NetworkingConfig = {
      EndpointsConfig: {
        [project.networks[first]!.name]: {
          Aliases: [s.name, ...net.aliases],
          ...(net.ipv4_address ? { IPAMConfig: { IPv4Address: net.ipv4_address } } : {}),
          ...(net.gw_priority ? { GwPriority: net.gw_priority } : {}),
        },
      },
    }
  }
  return body
}

/** `pid`/`ipc: service:NAME` become the engine's `container:CONTAINER`. */
function namespaceModes(project: Project, s: ServiceConfig): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, mode] of [['PidMode', s.pid], ['IpcMode', s.ipc]] as const) {
    if (!mode?.startsWith('service:')) continue
    const target = project.services.find((x) => x.name === mode.slice('service:'.length))
    out[key] = `container:${target ? containerName(project, target, 1) : mode.slice('service:'.length)}`
  }
  return out
}

function healthOf(s: ServiceConfig): NonNullable<ContainerCreateBody['Healthcheck']> {
  const h = s.healthcheck!
  if (h.disable) return { Test: ['NONE'] }
  const ns = (d: string | undefined): number | undefined => (d === undefined ? undefined : Math.round((parseGoDuration(d) ?? 0) * 1e6))
  return {
    ...(h.test ? { Test: h.test } : {}),
    ...(h.interval ? { Interval: ns(h.interval) } : {}),
    ...(h.timeout ? { Timeout: ns(h.timeout) } : {}),
    ...(h.start_period ? { StartPeriod: ns(h.start_period) } : {}),
    ...(h.start_interval ? { StartInterval: ns(h.start_interval) } : {}),
    ...(h.retries !== undefined ? { Retries: h.retries } : {}),
  }
}

function restartOf(r: string): { Name: RestartPolicy['Name']; MaximumRetryCount: number } {
  const [name = 'no', count = '0'] = r.split(':')
  return { Name: name as RestartPolicy['Name'], MaximumRetryCount: Number(count) || 0 }
}
