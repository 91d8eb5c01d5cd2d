import { parseBytes } from '../lib/size.ts'
import { ComposeError } from './errors.ts'

/**
 * The container options of a service that map one to one onto the Engine API's HostConfig, in the spec's long form
 * (sizes in bytes, CPUs as a number). `deploy.resources` feeds the same fields when the service-level ones are unset.
 */
export interface ContainerOptions {
  mem_limit?: number
  memswap_limit?: number
  mem_reservation?: number
  shm_size?: number
  cpus?: number
  cpu_shares?: number
  cpu_quota?: number
  cpu_period?: number
  cpuset?: string
  pids_limit?: number
  oom_score_adj?: number
  oom_kill_disable?: boolean
  ulimits?: Record<string, { soft: number; hard: number }>
  sysctls?: Record<string, string>
  tmpfs?: string[]
  devices?: string[]
  security_opt?: string[]
  group_add?: string[]
  dns_search?: string[]
  dns_opt?: string[]
  pid?: string
  ipc?: string
  userns_mode?: string
  cgroup_parent?: string
  cgroup?: string
  runtime?: string
  domainname?: string
  mac_address?: string
  platform?: string
  logging?: { driver?: string; options: Record<string, string> }
}

export const OPTION_KEYS = [
  'mem_limit', 'memswap_limit', 'mem_reservation', 'shm_size', 'cpus', 'cpu_shares', 'cpu_quota', 'cpu_period', 'cpuset', 'pids_limit',
  'oom_score_adj', 'oom_kill_disable', 'ulimits', 'sysctls', 'tmpfs', 'devices', 'security_opt', 'group_add', 'dns_search', 'dns_opt',
  'pid', 'ipc', 'userns_mode', 'cgroup_parent', 'cgroup', 'runtime', 'domainname', 'mac_address', 'platform', 'logging',
] as const

/** A scalar as YAML wrote it; anything else as JSON (what a wrong type looks like in an error). */
const text = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? `${v}` : JSON.stringify(v))

/** The options a raw service sets, checked and normalised; `at` names the attribute in errors. */
export function containerOptionsOf(s: Record<string, unknown>, at: (k: string) => string): ContainerOptions {
  const o: ContainerOptions = {}
  const bytes = (k: string, v: unknown): number | undefined => {
    if (v === undefined || v === null) return undefined
    if (typeof v === 'number') return v
    const n = parseBytes(text(v))
    if (n === undefined) throw new ComposeError(`${at(k)}: invalid size "${text(v)}"`)
    return n
  }
  const number = (k: string, v: unknown): number | undefined => {
    if (v === undefined || v === null) return undefined
    const n = Number(v)
    if (!Number.isFinite(n)) throw new ComposeError(`${at(k)}: invalid number "${text(v)}"`)
    return n
  }
  const strings = (v: unknown): string[] | undefined => (v === undefined || v === null ? undefined : Array.isArray(v) ? v.map(text) : [text(v)])
  const deploy = (s['deploy'] ?? {}) as { resources?: { limits?: Record<string, unknown>; reservations?: Record<string, unknown> } }
  const limits = deploy.resources?.limits ?? {}
  const reservations = deploy.resources?.reservations ?? {}

  const set = <K extends keyof ContainerOptions>(k: K, v: ContainerOptions[K] | undefined): void => {
    if (v !== undefined) o[k] = v
  }
  set('mem_limit', bytes('mem_limit', s['mem_limit']) ?? bytes('deploy.resources.limits.memory', limits['memory']))
  set('memswap_limit', bytes('memswap_limit', s['memswap_limit']))
  set('mem_reservation', bytes('mem_reservation', s['mem_reservation']) ?? bytes('deploy.resources.reservations.memory', reservations['memory']))
  set('shm_size', bytes('shm_size', s['shm_size']))
  set('cpus', number('cpus', s['cpus']) ?? number('deploy.resources.limits.cpus', limits['cpus']))
  set('cpu_shares', number('cpu_shares', s['cpu_shares']))
  set('cpu_quota', number('cpu_quota', s['cpu_quota']))
  set('cpu_period', number('cpu_period', s['cpu_period']))
  set('pids_limit', number('pids_limit', s['pids_limit']) ?? number('deploy.resources.limits.pids', limits['pids']))
  set('oom_score_adj', number('oom_score_adj', s['oom_score_adj']))
  if (typeof s['oom_kill_disable'] === 'boolean') o.oom_kill_disable = s['oom_kill_disable']
  if (s['ulimits'] !== undefined) {
    o.ulimits = Object.fromEntries(
      Object.entries(s['ulimits'] as Record<string, unknown>).map(([name, v]) => {
        if (typeof v === 'number' || typeof v === 'string') return [name, { soft: Number(v), hard: Number(v) }]
        const l = v as { soft?: unknown; hard?: unknown }
        return [name, { soft: Number(l.soft), hard: Number(l.hard) }]
      }),
    )
  }
  if (s['sysctls'] !== undefined) {
    const v = s['sysctls']
    o.sysctls = Array.isArray(v)
      ? Object.fromEntries(v.map(text).map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]))
      : Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, text(x)]))
  }
  for (const k of ['tmpfs', 'devices', 'security_opt', 'group_add', 'dns_search', 'dns_opt'] as const) set(k, strings(s[k]))
  for (const k of ['pid', 'ipc', 'userns_mode', 'cgroup_parent', 'cgroup', 'runtime', 'domainname', 'mac_address', 'platform', 'cpuset'] as const) {
    if (s[k] !== undefined && s[k] !== null) o[k] = text(s[k])
  }
  if (s['logging'] !== undefined) {
    const l = s['logging'] as { driver?: string; options?: Record<string, unknown> }
    o.logging = { ...(l.driver ? { driver: l.driver } : {}), options: Object.fromEntries(Object.entries(l.options ?? {}).map(([k, v]) => [k, text(v)])) }
  }
  return o
}

/** The HostConfig fields (and the few Config ones) these options become. */
export function engineFieldsOf(o: ContainerOptions): { host: Record<string, unknown>; config: Record<string, unknown> } {
  const host: Record<string, unknown> = {}
  const put = (k: string, v: unknown): void => {
    if (v !== undefined) host[k] = v
  }
  put('Memory', o.mem_limit)
  put('MemorySwap', o.memswap_limit)
  put('MemoryReservation', o.mem_reservation)
  put('ShmSize', o.shm_size)
  put('NanoCpus', o.cpus === undefined ? undefined : Math.round(o.cpus * 1e9))
  put('CpuShares', o.cpu_shares)
  put('CpuQuota', o.cpu_quota)
  put('CpuPeriod', o.cpu_period)
  put('CpusetCpus', o.cpuset)
  put('PidsLimit', o.pids_limit)
  put('OomScoreAdj', o.oom_score_adj)
  put('OomKillDisable', o.oom_kill_disable)
  put('Ulimits', o.ulimits && Object.entries(o.ulimits).map(([Name, l]) => ({ Name, Soft: l.soft, Hard: l.hard })))
  put('Sysctls', o.sysctls)
  put('Tmpfs', o.tmpfs && Object.fromEntries(o.tmpfs.map((t) => [t.split(':')[0]!, t.includes(':') ? t.slice(t.indexOf(':') + 1) : ''])))
  put('Devices', o.devices?.map(deviceOf))
  put('SecurityOpt', o.security_opt)
  put('GroupAdd', o.group_add)
  put('DnsSearch', o.dns_search)
  put('DnsOptions', o.dns_opt)
  put('PidMode', o.pid)
  put('IpcMode', o.ipc)
  put('UsernsMode', o.userns_mode)
  put('CgroupParent', o.cgroup_parent)
  put('CgroupnsMode', o.cgroup)
  put('Runtime', o.runtime)
  put('LogConfig', o.logging && { Type: o.logging.driver ?? 'json-file', Config: o.logging.options })
  const config: Record<string, unknown> = {}
  if (o.domainname !== undefined) config['Domainname'] = o.domainname
  if (o.mac_address !== undefined) config['MacAddress'] = o.mac_address
  return { host, config }
}

/** `HOST[:CONTAINER[:PERMISSIONS]]`, as `--device`. */
function deviceOf(spec: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const [host = '', container, perms] = spec.split(':')
  if (container !== undefined && /^[rwm]+$/.test(container) && perms === undefined) return { PathOnHost: host, PathInContainer: host, CgroupPermissions: container }
  return { PathOnHost: host, PathInContainer: container || host, CgroupPermissions: perms ?? 'rwm' }
}
