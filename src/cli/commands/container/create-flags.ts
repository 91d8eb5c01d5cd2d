// The flags `create` and `run` share, and the create body they make: what the docker CLI sends for them.
import type { ContainerCreateBody } from '../../../wire/types.ts'
import { type FlagSpec, type ParsedArgs, UsageError, bool, list, str } from '../../flags.ts'
import { readFileSync } from 'node:fs'
import { parseBytes } from '../../../lib/size.ts'
import { parseGoDuration } from '../../../lib/time.ts'
import { parseExpose, parsePublish } from './ports.ts'
import { keyValues } from '../kv.ts'

export const createFlags: FlagSpec[] = [
  { name: 'name', type: 'string' },
  { name: 'env', short: 'e', type: 'list' },
  { name: 'env-file', type: 'list' },
  { name: 'workdir', short: 'w', type: 'string' },
  { name: 'user', short: 'u', type: 'string' },
  { name: 'entrypoint', type: 'string' },
  { name: 'label', short: 'l', type: 'list' },
  { name: 'hostname', short: 'h', type: 'string' },
  { name: 'rm', type: 'bool' },
  { name: 'tty', short: 't', type: 'bool' },
  { name: 'interactive', short: 'i', type: 'bool' },
  { name: 'network', type: 'string' },
  { name: 'net', type: 'string' },
  { name: 'publish', short: 'p', type: 'list' },
  { name: 'publish-all', short: 'P', type: 'bool' },
  { name: 'expose', type: 'list' },
  { name: 'ip', type: 'string' },
  { name: 'network-alias', type: 'list' },
  { name: 'restart', type: 'string' },
  { name: 'privileged', type: 'bool' },
  { name: 'read-only', type: 'bool' },
  { name: 'cap-add', type: 'list' },
  { name: 'cap-drop', type: 'list' },
  { name: 'add-host', type: 'list' },
  { name: 'stop-signal', type: 'string' },
  { name: 'stop-timeout', type: 'string' },
  { name: 'log-driver', type: 'string' },
  { name: 'log-opt', type: 'list' },
  { name: 'platform', type: 'string' },
  { name: 'pull', type: 'string' },
  { name: 'quiet', short: 'q', type: 'bool' },
  { name: 'volume', short: 'v', type: 'list' },
  { name: 'mount', type: 'list' },
  { name: 'tmpfs', type: 'list' },
  { name: 'volumes-from', type: 'list' },
  { name: 'init', type: 'bool' },
  { name: 'security-opt', type: 'list' },
  { name: 'sysctl', type: 'list' },
  { name: 'device', type: 'list' },
  { name: 'pid', type: 'string' },
  { name: 'ipc', type: 'string' },
  { name: 'uts', type: 'string' },
  { name: 'cgroupns', type: 'string' },
  { name: 'group-add', type: 'list' },
  { name: 'shm-size', type: 'string' },
  { name: 'dns', type: 'list' },
  { name: 'dns-search', type: 'list' },
  { name: 'dns-option', type: 'list' },
  { name: 'memory', short: 'm', type: 'string' },
  { name: 'memory-swap', type: 'string' },
  { name: 'memory-reservation', type: 'string' },
  { name: 'oom-kill-disable', type: 'bool' },
  { name: 'cpus', type: 'string' },
  { name: 'cpu-shares', short: 'c', type: 'string' },
  { name: 'cpu-period', type: 'string' },
  { name: 'cpu-quota', type: 'string' },
  { name: 'cpuset-cpus', type: 'string' },
  { name: 'cpuset-mems', type: 'string' },
  { name: 'pids-limit', type: 'string' },
  { name: 'ulimit', type: 'list' },
  { name: 'health-cmd', type: 'string' },
  { name: 'health-interval', type: 'string' },
  { name: 'health-timeout', type: 'string' },
  { name: 'health-retries', type: 'string' },
  { name: 'health-start-period', type: 'string' },
  { name: 'health-start-interval', type: 'string' },
  { name: 'no-healthcheck', type: 'bool' },
]

/** Security and namespace flags into HostConfig fields; a seccomp profile file is sent by content, as docker does. */
function securityOf(p: ParsedArgs): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const opts = list(p, 'security-opt').map((o) => {
    const m = /^seccomp[=:](.+)$/.exec(o)
    if (!m || m[1] === 'unconfined' || m[1] === 'builtin') return o
    try {
      return `seccomp=${readFileSync(m[1]!, 'utf8')}`
    } catch (err) {
      throw new UsageError(`opening seccomp profile (${m[1]}) failed: ${(err as Error).message}`)
    }
  })
  if (opts.length > 0) out['SecurityOpt'] = opts
  const sysctls = Object.fromEntries(
    list(p, 'sysctl').map((kv) => {
      const eq = kv.indexOf('=')
      if (eq <= 0) throw new UsageError(`invalid argument "${kv}" for "--sysctl" flag: sysctl '${kv}' is not valid, must be KEY=VALUE`)
      return [kv.slice(0, eq), kv.slice(eq + 1)]
    }),
  )
  if (Object.keys(sysctls).length > 0) out['Sysctls'] = sysctls
  const devices = list(p, 'device').map((d) => {
    const [host, inContainer, perms] = d.split(':')
    if (!host?.startsWith('/')) throw new UsageError(`invalid argument "${d}" for "--device" flag: invalid device path ${host}`)
    const permissions = inContainer && /^[rwm]+$/.test(inContainer) && perms === undefined ? inContainer : (perms ?? 'rwm')
    const target = inContainer && !/^[rwm]+$/.test(inContainer) ? inContainer : host
    return { PathOnHost: host, PathInContainer: target, CgroupPermissions: permissions }
  })
  if (devices.length > 0) out['Devices'] = devices
  if (str(p, 'pid') !== undefined) out['PidMode'] = str(p, 'pid')
  if (str(p, 'ipc') !== undefined) out['IpcMode'] = str(p, 'ipc')
  if (str(p, 'uts') !== undefined) out['UTSMode'] = str(p, 'uts')
  const cgroupns = str(p, 'cgroupns')
  if (cgroupns !== undefined) {
    if (!['', 'host', 'private'].includes(cgroupns)) throw new UsageError('--cgroupns: invalid CGROUP mode')
    out['CgroupnsMode'] = cgroupns
  }
  if (list(p, 'group-add').length > 0) out['GroupAdd'] = list(p, 'group-add')
  const shm = str(p, 'shm-size')
  if (shm !== undefined) {
    const n = parseBytes(shm)
    if (n === undefined) throw new UsageError(`invalid argument "${shm}" for "--shm-size" flag: invalid size: '${shm}'`)
    out['ShmSize'] = n
  }
  if (list(p, 'dns').length > 0) out['Dns'] = list(p, 'dns')
  if (list(p, 'dns-search').length > 0) out['DnsSearch'] = list(p, 'dns-search')
  if (list(p, 'dns-option').length > 0) out['DnsOptions'] = list(p, 'dns-option')
  return out
}

/** The resource flags into HostConfig fields, as the docker CLI parses them. */
export function resourcesOf(p: ParsedArgs): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const bytes = (flag: string, key: string): void => {
    const v = str(p, flag)
    if (v === undefined) return
    if (flag === 'memory-swap' && v === '-1') {
      out[key] = -1
      return
    }
    const n = parseBytes(v)
    if (n === undefined) throw new UsageError(`invalid argument "${v}" for "--${flag}" flag: invalid size: '${v}'`)
    out[key] = n
  }
  const int = (flag: string, key: string): void => {
    const v = str(p, flag)
    if (v === undefined) return
    if (!/^-?\d+$/.test(v)) throw new UsageError(`invalid argument "${v}" for "--${flag}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`)
    out[key] = Number(v)
  }
  bytes('memory', 'Memory')
  bytes('memory-swap', 'MemorySwap')
  bytes('memory-reservation', 'MemoryReservation')
  int('cpu-shares', 'CpuShares')
  int('cpu-period', 'CpuPeriod')
  int('cpu-quota', 'CpuQuota')
  int('pids-limit', 'PidsLimit')
  const cpus = str(p, 'cpus')
  if (cpus !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(cpus)) throw new UsageError(`invalid argument "${cpus}" for "--cpus" flag: failed to parse ${cpus} as a rational number`)
    out['NanoCpus'] = Math.round(Number(cpus) * 1e9)
  }
  if (str(p, 'cpuset-cpus') !== undefined) out['CpusetCpus'] = str(p, 'cpuset-cpus')
  if (str(p, 'cpuset-mems') !== undefined) out['CpusetMems'] = str(p, 'cpuset-mems')
  if (bool(p, 'oom-kill-disable')) out['OomKillDisable'] = true
  const ulimits = list(p, 'ulimit').map((u) => {
    const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u)
    if (!m) throw new UsageError(`invalid argument "${u}" for "--ulimit" flag: invalid ulimit argument: ${u}`)
    return { Name: m[1]!, Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) }
  })
  if (ulimits.length > 0) out['Ulimits'] = ulimits
  return out
}

/** `--health-*` and `--no-healthcheck` into the create body's Healthcheck, as the docker CLI builds it. */
function healthcheckOf(p: ParsedArgs): ContainerCreateBody['Healthcheck'] {
  const duration = (flag: string): number | undefined => {
    const v = str(p, flag)
    if (v === undefined) return undefined
    const ms = parseGoDuration(v)
    if (ms === undefined) throw new UsageError(`invalid argument "${v}" for "--${flag}" flag: time: invalid duration "${v}"`)
    return Math.round(ms * 1_000_000)
  }
  const given = ['health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period', 'health-start-interval'].some((f) => p.flags.has(f))
  if (bool(p, 'no-healthcheck')) {
    if (given) throw new UsageError('--no-healthcheck conflicts with --health-* options')
    return { Test: ['NONE'] }
  }
  if (!given) return undefined
  const cmd = str(p, 'health-cmd')
  const retries = str(p, 'health-retries')
  if (retries !== undefined && !/^\d+$/.test(retries)) throw new UsageError(`invalid argument "${retries}" for "--health-retries" flag: strconv.ParseInt: parsing "${retries}": invalid syntax`)
  const h: NonNullable<ContainerCreateBody['Healthcheck']> = {}
  if (cmd) h.Test = ['CMD-SHELL', cmd]
  const fields = [['Interval', 'health-interval'], ['Timeout', 'health-timeout'], ['StartPeriod', 'health-start-period'], ['StartInterval', 'health-start-interval']] as const
  for (const [k, flag] of fields) {
    const ns = duration(flag)
    if (ns !== undefined) h[k] = ns
  }
  if (retries !== undefined) h.Retries = Number(retries)
  return h
}

/** Turns run/create flags into the create request body, as the docker CLI does. */
export function createBody(p: ParsedArgs): { body: ContainerCreateBody; name: string | undefined } {
  const [image, ...cmd] = p.args
  if (!image) throw new UsageError('requires at least 1 argument')
  const env: string[] = []
  for (const file of list(p, 'env-file')) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const t = line.trim()
      if (t && !t.startsWith('#')) env.push(t.includes('=') ? t : `${t}=${process.env[t] ?? ''}`)
    }
  }
  for (const e of list(p, 'env')) env.push(e.includes('=') ? e : `${e}=${process.env[e] ?? ''}`)
  const labels: Record<string, string> = {}
  for (const l of list(p, 'label')) {
    const eq = l.indexOf('=')
    labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1)
  }
  const restart = str(p, 'restart')
  const [restartName = 'no', retries = '0'] = (restart ?? 'no').split(':')
  const entrypoint = str(p, 'entrypoint')
  const tty = bool(p, 'tty')
  const interactive = bool(p, 'interactive')
  const stopTimeout = str(p, 'stop-timeout')
  const published = parsePublish(list(p, 'publish'))
  const exposed = { ...parseExpose(list(p, 'expose')), ...published.exposed }
  const network = str(p, 'network') ?? str(p, 'net') ?? 'default'
  const endpoint = {
    ...(list(p, 'network-alias').length > 0 ? { Aliases: list(p, 'network-alias') } : {}),
    ...(str(p, 'ip') ? { IPAMConfig: { IPv4Address: str(p, 'ip')! } } : {}),
  }
  const body: ContainerCreateBody = {
    Image: image,
    Cmd: cmd.length > 0 ? cmd : null,
    Env: env,
    Labels: labels,
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: interactive,
    AttachStdin: interactive,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      AutoRemove: bool(p, 'rm'),
      NetworkMode: network,
      PortBindings: published.bindings,
      PublishAllPorts: bool(p, 'publish-all'),
      RestartPolicy: { Name: restartName as 'no', MaximumRetryCount: Number(retries) },
      Privileged: bool(p, 'privileged'),
      ReadonlyRootfs: bool(p, 'read-only'),
      CapAdd: list(p, 'cap-add'),
      CapDrop: list(p, 'cap-drop'),
      ExtraHosts: list(p, 'add-host'),
      Binds: list(p, 'volume').filter((v) => v.includes(':')),
      Mounts: list(p, 'mount').map(parseMountFlag),
      Tmpfs: Object.fromEntries(list(p, 'tmpfs').map((t) => [t.split(':')[0]!, t.includes(':') ? t.slice(t.indexOf(':') + 1) : ''])),
      VolumesFrom: list(p, 'volumes-from'),
      ...(bool(p, 'init') ? { Init: true } : {}),
      ...resourcesOf(p),
      ...securityOf(p),
      ...(str(p, 'log-driver') || list(p, 'log-opt').length > 0 ? { LogConfig: { Type: str(p, 'log-driver') ?? 'json-file', Config: keyValues(list(p, 'log-opt')) } } : {}),
    },
  }
  if (Object.keys(exposed).length > 0) body.ExposedPorts = exposed
  if (Object.keys(endpoint).length > 0) body.NetworkingConfig = { EndpointsConfig: { [network === 'default' ? 'bridge' : network]: endpoint } }
  const anonymous = list(p, 'volume').filter((v) => !v.includes(':'))
  if (anonymous.length > 0) body.Volumes = Object.fromEntries(anonymous.map((v) => [v, {}]))
  if (entrypoint !== undefined) body.Entrypoint = entrypoint === '' ? [''] : [entrypoint]
  if (str(p, 'workdir')) body.WorkingDir = str(p, 'workdir')!
  if (str(p, 'user')) body.User = str(p, 'user')!
  if (str(p, 'hostname')) body.Hostname = str(p, 'hostname')!
  if (str(p, 'stop-signal')) body.StopSignal = str(p, 'stop-signal')!
  if (stopTimeout !== undefined) body.StopTimeout = Number(stopTimeout)
  const healthcheck = healthcheckOf(p)
  if (healthcheck) body.Healthcheck = healthcheck
  return { body, name: str(p, 'name') }
}

/** `--mount type=volume,source=x,target=/y,readonly,...` into the API's Mount object, as the docker CLI does. */
export function parseMountFlag(spec: string): Record<string, unknown> {
  const m: Record<string, unknown> = { Type: 'volume' }
  const bind: Record<string, unknown> = {}
  const volume: Record<string, unknown> = {}
  const tmpfs: Record<string, unknown> = {}
  const image: Record<string, unknown> = {}
  const driverOpts: Record<string, string> = {}
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=')
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase()
    const value = eq < 0 ? '' : field.slice(eq + 1)
    const truthy = eq < 0 || ['1', 'true'].includes(value.toLowerCase())
    switch (key) {
      case 'type':
        m['Type'] = value
        break
      case 'source':
      case 'src':
        m['Source'] = value
        break
      case 'target':
      case 'destination':
      case 'dst':
        m['Target'] = value
        break
      case 'readonly':
      case 'ro':
        m['ReadOnly'] = truthy
        break
      case 'bind-propagation':
        bind['Propagation'] = value
        break
      case 'volume-nocopy':
        volume['NoCopy'] = truthy
        break
      case 'volume-subpath':
        volume['Subpath'] = value
        break
      case 'volume-driver':
        volume['DriverConfig'] = { Name: value }
        break
      case 'volume-opt': {
        const e2 = value.indexOf('=')
        driverOpts[value.slice(0, e2)] = value.slice(e2 + 1)
        break
      }
      case 'tmpfs-size':
        tmpfs['SizeBytes'] = parseBytes(value)
        if (tmpfs['SizeBytes'] === undefined) throw new UsageError(`invalid argument "${spec}" for "--mount" flag: invalid size: ${value}`)
        break
      case 'tmpfs-mode':
        tmpfs['Mode'] = Number.parseInt(value, 8)
        break
      case 'image-subpath':
        image['Subpath'] = value
        break
      default:
        throw new UsageError(`invalid argument "${spec}" for "--mount" flag: unexpected key '${key}' in '${field}'`)
    }
  }
  if (Object.keys(bind).length) m['BindOptions'] = bind
  if (Object.keys(driverOpts).length) volume['DriverConfig'] = { ...(volume['DriverConfig'] as object | undefined), Options: driverOpts }
  if (Object.keys(volume).length) m['VolumeOptions'] = volume
  if (Object.keys(tmpfs).length) m['TmpfsOptions'] = tmpfs
  if (Object.keys(image).length) m['ImageOptions'] = image
  return m
}

