import { parseBytes } from '../lib/size.ts'
import { parseGoDuration } from '../lib/time.ts'
import type { Project, ServiceConfig, VolumeMount } from './model.ts'
import { absolute, scalar } from './values.ts'

/**
 * The project as `docker compose config` prints it (compose-go's canonical form): services by name, each one's
 * attributes in compose-go's field order, short syntaxes in their long form (ports, volumes, depends_on, networks,
 * env files, healthcheck tests), sizes in bytes, durations as Go writes them, maps sorted, and what is false, zero
 * or empty left out. Attributes caisd does not act on are printed all the same: `config` shows the whole model.
 */
export function canonicalProject(project: Project): Record<string, unknown> {
  const doc = project.document
  const out: Record<string, unknown> = { name: project.name }
  out['services'] = Object.fromEntries([...project.services].sort(byName).map((s) => [s.name, canonicalService(s, record(record(doc['services'])[s.name]), project)]))
  const networks = Object.fromEntries(Object.entries(project.networks).sort(byKey).map(([key, n]) => [key, topLevel(n.name, record(record(doc['networks'])[key]), networkKeys)]))
  if (Object.keys(networks).length > 0) out['networks'] = networks
  for (const kind of ['volumes', 'secrets', 'configs'] as const) {
    const declared = project[kind] as Record<string, { name: string; file?: string }>
    const entries = Object.entries(declared).sort(byKey).map(([key, o]) => {
      const raw = { ...record(record(doc[kind])[key]), ...(o.file ? { file: o.file } : {}) }
      return [key, topLevel(o.name, raw, kind === 'volumes' ? volumeKeys : fileObjectKeys)] as const
    })
    if (entries.length > 0) out[kind] = Object.fromEntries(entries)
  }
  for (const k of Object.keys(doc).filter((k) => k.startsWith('x-')).sort()) out[k] = doc[k]
  return out
}

/** compose-go's ServiceConfig fields, in the order it writes them. */
const serviceKeys = [
  'profiles', 'annotations', 'attach', 'build', 'develop', 'blkio_config', 'cap_add', 'cap_drop', 'cgroup_parent', 'cgroup', 'cpu_count',
  'cpu_percent', 'cpu_period', 'cpu_quota', 'cpu_rt_period', 'cpu_rt_runtime', 'cpus', 'cpuset', 'cpu_shares', 'command', 'configs',
  'container_name', 'credential_spec', 'depends_on', 'deploy', 'device_cgroup_rules', 'devices', 'dns', 'dns_opt', 'dns_search', 'dockerfile',
  'domainname', 'entrypoint', 'provider', 'environment', 'env_file', 'expose', 'extends', 'external_links', 'extra_hosts', 'group_add', 'gpus',
  'hostname', 'healthcheck', 'image', 'init', 'ipc', 'isolation', 'labels', 'label_file', 'links', 'logging', 'log_driver', 'log_opt',
  'mem_limit', 'mem_reservation', 'memswap_limit', 'mem_swappiness', 'mac_address', 'net', 'network_mode', 'networks', 'oom_kill_disable',
  'oom_score_adj', 'pid', 'pids_limit', 'platform', 'ports', 'privileged', 'pull_policy', 'read_only', 'restart', 'runtime', 'scale',
  'secrets', 'security_opt', 'shm_size', 'stdin_open', 'stop_grace_period', 'stop_signal', 'storage_opt', 'sysctls', 'tmpfs', 'tty', 'ulimits',
  'use_api_socket', 'user', 'userns_mode', 'uts', 'volume_driver', 'volumes', 'volumes_from', 'working_dir', 'post_start', 'pre_stop',
]
const buildKeys = [
  'context', 'dockerfile', 'dockerfile_inline', 'entitlements', 'args', 'ssh', 'labels', 'cache_from', 'cache_to', 'no_cache', 'additional_contexts',
  'network', 'pull', 'target', 'shm_size', 'extra_hosts', 'isolation', 'privileged', 'secrets', 'tags', 'ulimits', 'platforms',
]
const healthcheckKeys = ['test', 'timeout', 'interval', 'retries', 'start_period', 'start_interval', 'disable']
const portKeys = ['name', 'mode', 'host_ip', 'target', 'published', 'protocol', 'app_protocol']
const volumeMountKeys = ['type', 'source', 'target', 'read_only', 'consistency', 'bind', 'volume', 'tmpfs', 'image']
const networkKeys = ['name', 'driver', 'driver_opts', 'ipam', 'external', 'internal', 'attachable', 'labels', 'enable_ipv4', 'enable_ipv6']
const volumeKeys = ['name', 'driver', 'driver_opts', 'external', 'labels']
const fileObjectKeys = ['name', 'file', 'environment', 'content', 'external', 'labels', 'driver', 'driver_opts', 'template_driver']
const byteKeys = new Set(['mem_limit', 'mem_reservation', 'memswap_limit', 'shm_size', 'mem_swappiness'])
const durationKeys = new Set(['stop_grace_period'])
const sortedMapKeys = new Set(['annotations', 'labels', 'sysctls', 'ulimits', 'storage_opt', 'log_opt', 'driver_opts'])
const stringListKeys = new Set(['dns', 'dns_search', 'tmpfs'])

function canonicalService(s: ServiceConfig, raw: Record<string, unknown>, project: Project): Record<string, unknown> {
  const wd = project.workingDir
  const values: Record<string, unknown> = { ...raw }
  delete values['extends']
  // What the model already holds in its long form comes from there.
  if (s.build) values['build'] = canonicalBuild(record(raw['build']), typeof raw['build'] === 'string' ? raw['build'] : undefined, wd)
  if (s.command !== undefined) values['command'] = s.command
  if (s.entrypoint !== undefined) values['entrypoint'] = s.entrypoint
  values['environment'] = sortKeys(s.environment)
  if (raw['env_file'] !== undefined && raw['env_file'] !== null) values['env_file'] = envFilesOf(raw['env_file'], wd)
  values['depends_on'] = Object.fromEntries(
    Object.entries(s.depends_on).sort(byKey).map(([name, d]) => [name, { condition: d.condition, ...(d.restart ? { restart: true } : {}), required: d.required }]),
  )
  values['ports'] = s.ports.map((p) => ordered({ name: p.name, mode: p.mode ?? 'ingress', host_ip: p.host_ip, target: p.target, published: p.published, protocol: p.protocol, app_protocol: p.app_protocol }, portKeys))
  values['volumes'] = listOfRaw(raw['volumes']).map((v, i) => volumeOf(v, s.volumes[i]!, wd))
  values['networks'] = s.network_mode ? undefined : Object.fromEntries(Object.keys(s.networks).sort().map((n) => [n, networkAttachment(record(raw['networks'])[n])]))
  if (s.healthcheck) values['healthcheck'] = ordered({ ...record(raw['healthcheck']), ...s.healthcheck, ...durations(s.healthcheck) }, healthcheckKeys)
  if (raw['labels'] !== undefined) values['labels'] = sortKeys(s.labels)
  if (raw['expose'] !== undefined) values['expose'] = s.expose
  if (raw['extra_hosts'] !== undefined) values['extra_hosts'] = s.extra_hosts.map((h) => h.replace(/^([^:]+):/, '$1=')).sort()
  for (const kind of ['secrets', 'configs'] as const) {
    if (raw[kind] !== undefined) values[kind] = listOfRaw(raw[kind]).map((r) => (typeof r === 'string' ? { source: r } : r))
  }
  if (raw['sysctls'] !== undefined && Array.isArray(raw['sysctls'])) values['sysctls'] = Object.fromEntries(raw['sysctls'].map((e) => scalar(e)).map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]))
  if (raw['deploy'] !== undefined) values['deploy'] = canonicalDeploy(record(raw['deploy']))
  for (const k of Object.keys(values)) {
    if (byteKeys.has(k)) values[k] = bytes(values[k])
    if (durationKeys.has(k)) values[k] = goDuration(values[k])
    if (stringListKeys.has(k) && typeof values[k] === 'string') values[k] = [values[k]]
    if (sortedMapKeys.has(k) && isRecord(values[k])) values[k] = sortKeys(values[k])
  }
  return ordered(values, serviceKeys, { extensionsLast: true })
}

function canonicalBuild(raw: Record<string, unknown>, short: string | undefined, wd: string): Record<string, unknown> {
  const context = scalar(short ?? raw['context'] ?? '.')
  const remote = /^(https?:\/\/|git@|github\.com\/)/.test(context) || context.includes('.git#')
  return ordered({ ...raw, context: remote ? context : absolute(context, wd), dockerfile: raw['dockerfile'] ?? 'Dockerfile', args: raw['args'] === undefined ? undefined : argsOf(raw['args']) }, buildKeys, { extensionsLast: true })
}

function argsOf(v: unknown): Record<string, unknown> {
  if (Array.isArray(v)) return sortKeys(Object.fromEntries(v.map((a) => scalar(a)).map((a) => (a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, null]))))
  return sortKeys(Object.fromEntries(Object.entries(record(v)).map(([k, x]) => [k, x === null ? null : scalar(x)])))
}

function envFilesOf(v: unknown, wd: string): Array<Record<string, unknown>> {
  return (Array.isArray(v) ? v : [v]).map((f) => {
    const spec = typeof f === 'string' ? { path: f } : record(f)
    return { path: absolute(scalar(spec['path']), wd), required: spec['required'] !== false, ...(spec['format'] !== undefined ? { format: spec['format'] } : {}) }
  })
}

/** A volume entry in its long form; the short syntax says more than it writes (`create_host_path`, an empty `volume`). */
function volumeOf(raw: unknown, m: VolumeMount, wd: string): Record<string, unknown> {
  if (isRecord(raw)) {
    const source = m.type === 'bind' && typeof raw['source'] === 'string' ? absolute(raw['source'], wd) : raw['source']
    return ordered({ ...raw, type: m.type, source }, volumeMountKeys, { extensionsLast: true })
  }
  const mode = scalar(raw).split(':')[2] ?? ''
  const flags = mode ? mode.split(',') : []
  const selinux = flags.find((f) => f === 'z' || f === 'Z')
  return ordered(
    {
      type: m.type,
      source: m.source,
      target: m.target,
      read_only: m.read_only || undefined,
      bind: m.type === 'bind' ? { create_host_path: true, ...(selinux ? { selinux } : {}) } : undefined,
      volume: m.type === 'volume' ? (flags.includes('nocopy') ? { nocopy: true } : {}) : undefined,
    },
    volumeMountKeys,
  )
}

const networkAttachment = (v: unknown): Record<string, unknown> | null => (isRecord(v) && Object.keys(v).length > 0 ? v : null)

function canonicalDeploy(raw: Record<string, unknown>): Record<string, unknown> {
  const resources = record(raw['resources'])
  const part = (r: unknown): Record<string, unknown> | undefined =>
    isRecord(r) ? { ...r, ...(r['cpus'] !== undefined ? { cpus: Number(r['cpus']) } : {}), ...(r['memory'] !== undefined ? { memory: bytes(r['memory']) } : {}) } : undefined
  if (raw['resources'] === undefined) return raw
  return { ...raw, resources: dropEmpty({ ...resources, limits: part(resources['limits']), reservations: part(resources['reservations']) }) }
}

function topLevel(name: string, raw: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const values: Record<string, unknown> = { ...raw, name }
  // `external: {name: x}` is the old way of naming an external object.
  if (isRecord(raw['external'])) values['external'] = true
  if (isRecord(values['labels'])) values['labels'] = sortKeys(values['labels'])
  if (isRecord(values['driver_opts'])) values['driver_opts'] = sortKeys(values['driver_opts'])
  if (Array.isArray(values['labels'])) values['labels'] = sortKeys(Object.fromEntries(values['labels'].map((e) => scalar(e)).map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)])))
  return ordered(values, keys, { extensionsLast: true })
}

/** Sizes as compose-go writes them: a byte count, as a string. */
function bytes(v: unknown): unknown {
  if (typeof v === 'number') return String(v)
  if (typeof v !== 'string') return v
  const n = parseBytes(v)
  return n === undefined ? v : String(n)
}

function durations(h: NonNullable<ServiceConfig['healthcheck']>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of ['interval', 'timeout', 'start_period', 'start_interval'] as const) if (h[k] !== undefined) out[k] = goDuration(h[k])
  return out
}

/** A duration as Go's time.Duration prints it ("1m30s", "500ms"); what does not parse is left as it is. */
export function goDuration(v: unknown): unknown {
  const text = typeof v === 'number' ? `${v}s` : typeof v === 'string' ? v : undefined
  const ms = text === undefined ? undefined : parseGoDuration(text)
  if (ms === undefined) return v
  const ns = Math.round(ms * 1e6)
  if (ns === 0) return '0s'
  if (ns < 1e9) {
    const [unit, size] = ns < 1e3 ? ['ns', 1] : ns < 1e6 ? ['µs', 1e3] : ['ms', 1e6]
    return `${Number((ns / size).toFixed(9))}${unit}`
  }
  const h = Math.floor(ns / 3600e9)
  const m = Math.floor((ns % 3600e9) / 60e9)
  const s = Number(((ns % 60e9) / 1e9).toFixed(9))
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`
}

/**
 * `values` with its keys in `order`, then any others (extensions, `x-…`, last when asked, sorted), leaving out what
 * Go's `omitempty` leaves out: undefined, false, zero, empty strings, lists and maps.
 */
function ordered(values: Record<string, unknown>, order: readonly string[], opts: { extensionsLast?: boolean } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const rest = Object.keys(values).filter((k) => !order.includes(k))
  const extensions = opts.extensionsLast ? rest.filter((k) => k.startsWith('x-')).sort() : []
  for (const k of [...order, ...rest.filter((k) => !extensions.includes(k)), ...extensions]) {
    const v = values[k]
    if (v === undefined || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0)) continue
    if (isRecord(v) && Object.keys(v).length === 0 && !['volume', 'networks'].includes(k)) continue
    out[k] = v
  }
  return out
}

function dropEmpty(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const record = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {})
const listOfRaw = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const sortKeys = <T>(o: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(o).sort(byKey))
const byKey = ([a]: [string, unknown], [b]: [string, unknown]): number => (a < b ? -1 : a > b ? 1 : 0)
const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
