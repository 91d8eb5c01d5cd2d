import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseDotenv } from './dotenv.ts'
import { ComposeError } from './errors.ts'
import type { LoadedProject } from './load.ts'
import type { DependencyCondition, FileReference, PortConfig, PullPolicy, ServiceConfig, VolumeMount, WatchRule } from './model.ts'
import { OPTION_KEYS, containerOptionsOf } from './service-options.ts'
import { absolute, listOf, mapping, scalar } from './values.ts'

/** The service attributes cais handles; the others are warned about. */
export const KNOWN = new Set([
  'image', 'build', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'expose', 'volumes', 'networks', 'network_mode',
  'depends_on', 'healthcheck', 'restart', 'labels', 'container_name', 'hostname', 'user', 'working_dir', 'tty', 'stdin_open',
  'privileged', 'read_only', 'init', 'cap_add', 'cap_drop', 'extra_hosts', 'dns', 'stop_signal', 'stop_grace_period', 'scale', 'profiles', 'deploy',
  'secrets', 'configs', 'volumes_from', 'pull_policy', 'links', 'develop', ...OPTION_KEYS,
])

/** A service's `secrets:` or `configs:`, short or long; a relative secret target lands under /run/secrets. */
function fileReferencesOf(v: unknown, kind: 'secrets' | 'configs', path: string): FileReference[] {
  return listOf(v, path).map((r, i) => {
    const o = typeof r === 'string' ? { source: r } : (mapping(r, `${path}[${i}]`) as { source?: string; target?: string; uid?: unknown; gid?: unknown; mode?: unknown })
    if (!o.source) throw new ComposeError(`${path}[${i}].source is required`)
    const target = o.target ?? o.source
    const ref: FileReference = { source: o.source, target: kind === 'secrets' ? (target.startsWith('/') ? target : `/run/secrets/${target}`) : target.startsWith('/') ? target : `/${target}` }
    if (o.uid !== undefined) ref.uid = scalar(o.uid)
    if (o.gid !== undefined) ref.gid = scalar(o.gid)
    if (o.mode !== undefined) ref.mode = typeof o.mode === 'number' ? o.mode : parseInt(scalar(o.mode), 8)
    return ref
  })
}

export function normalizeService(name: string, s: Record<string, unknown>, loaded: LoadedProject): ServiceConfig {
  const at = (k: string): string => `services.${name}.${k}`
  if (s['image'] === undefined && s['build'] === undefined) throw new ComposeError(`service "${name}" has neither an image nor a build context specified: invalid compose project`)
  const svc: ServiceConfig = {
    name,
    environment: environmentOf(s, name, loaded),
    ports: listOf(s['ports'], at('ports')).flatMap((p, i) => portsOf(p, `${at('ports')}[${i}]`)),
    expose: listOf(s['expose'], at('expose')).map(String),
    volumes: listOf(s['volumes'], at('volumes')).map((v, i) => volumeOf(v, `${at('volumes')}[${i}]`, loaded.workingDir)),
    networks: networksOf(s['networks'], at('networks')),
    depends_on: dependsOf(s['depends_on'], at('depends_on')),
    labels: labelsOf(s['labels'], at('labels')),
    tty: s['tty'] === true,
    stdin_open: s['stdin_open'] === true,
    privileged: s['privileged'] === true,
    read_only: s['read_only'] === true,
    cap_add: listOf(s['cap_add'], at('cap_add')).map(String),
    cap_drop: listOf(s['cap_drop'], at('cap_drop')).map(String),
    extra_hosts: Array.isArray(s['extra_hosts']) ? s['extra_hosts'].map(String) : Object.entries(mapping(s['extra_hosts'] ?? {}, at('extra_hosts'))).map(([h, ip]) => `${h}:${scalar(ip)}`),
    dns: typeof s['dns'] === 'string' ? [s['dns']] : listOf(s['dns'], at('dns')).map(String),
    scale: Number((s['deploy'] as { replicas?: number } | undefined)?.replicas ?? s['scale'] ?? 1),
    profiles: listOf(s['profiles'], at('profiles')).map(String),
    secrets: fileReferencesOf(s['secrets'], 'secrets', at('secrets')),
    configs: fileReferencesOf(s['configs'], 'configs', at('configs')),
    volumes_from: listOf(s['volumes_from'], at('volumes_from')).map(String),
    links: listOf(s['links'], at('links')).map(String),
    ...containerOptionsOf(s, at),
  }
  const develop = s['develop'] as { watch?: Array<Record<string, unknown>> } | undefined
  if (develop?.watch) {
    svc.develop = {
      watch: develop.watch.map((w, i) => {
        const action = scalar(w['action']) as WatchRule['action']
        const rule: WatchRule = { path: absolute(scalar(w['path']), loaded.workingDir), action, ignore: listOf(w['ignore'], `${at('develop.watch')}[${i}].ignore`).map(String) }
        if (w['target'] !== undefined) rule.target = scalar(w['target'])
        if ((action === 'sync' || action === 'sync+restart' || action === 'sync+exec') && !rule.target) throw new ComposeError(`${at('develop.watch')}[${i}]: a ${action} rule needs a target`)
        const exec = w['exec'] as { command?: unknown } | undefined
        if (exec?.command !== undefined) rule.exec = commandOf(exec.command, `${at('develop.watch')}[${i}].exec.command`) ?? []
        if (w['initial_sync'] === true) rule.initial_sync = true
        return rule
      }),
    }
  }
  if (s['pull_policy'] !== undefined) {
    const raw = scalar(s['pull_policy'])
    const policy = raw === 'if_not_present' ? 'missing' : raw
    if (!['always', 'never', 'missing', 'build'].includes(policy)) throw new ComposeError(`${at('pull_policy')}: invalid pull policy "${raw}"`)
    svc.pull_policy = policy as PullPolicy
  }
  const restartPolicy = (s['deploy'] as { restart_policy?: { condition?: string; max_attempts?: number } } | undefined)?.restart_policy
  if (restartPolicy && s['restart'] === undefined) {
    const c = restartPolicy.condition ?? 'any'
    svc.restart = c === 'none' ? 'no' : c === 'on-failure' ? `on-failure${restartPolicy.max_attempts ? `:${restartPolicy.max_attempts}` : ''}` : 'always'
  }
  if (typeof s['image'] === 'string') svc.image = s['image']
  if (s['build'] !== undefined) {
    const b = typeof s['build'] === 'string' ? { context: s['build'] } : mapping(s['build'], at('build'))
    const args = b['args']
    svc.build = {
      context: resolve(loaded.workingDir, scalar(b['context'] ?? '.')),
      ...(typeof b['dockerfile'] === 'string' ? { dockerfile: b['dockerfile'] } : {}),
      args: Array.isArray(args) ? Object.fromEntries(args.map((a: string) => [a.split('=')[0]!, a.slice(a.indexOf('=') + 1)])) : Object.fromEntries(Object.entries((args ?? {}) as Record<string, unknown>).map(([k, v]) => [k, scalar(v ?? '')])),
      ...(typeof b['target'] === 'string' ? { target: b['target'] } : {}),
    }
  }
  if (s['command'] !== undefined) svc.command = commandOf(s['command'], at('command'))
  if (s['entrypoint'] !== undefined) svc.entrypoint = commandOf(s['entrypoint'], at('entrypoint'))
  if (typeof s['network_mode'] === 'string') {
    svc.network_mode = s['network_mode']
    svc.networks = {}
  } else if (Object.keys(svc.networks).length === 0) svc.networks = { default: { aliases: [] } }
  if (s['healthcheck'] !== undefined) {
    const h = mapping(s['healthcheck'], at('healthcheck'))
    const test = h['test']
    svc.healthcheck = {
      ...(test !== undefined ? { test: typeof test === 'string' ? ['CMD-SHELL', test] : (test as string[]).map(String) } : {}),
      ...(h['interval'] !== undefined ? { interval: scalar(h['interval']) } : {}),
      ...(h['timeout'] !== undefined ? { timeout: scalar(h['timeout']) } : {}),
      ...(h['start_period'] !== undefined ? { start_period: scalar(h['start_period']) } : {}),
      ...(h['start_interval'] !== undefined ? { start_interval: scalar(h['start_interval']) } : {}),
      ...(h['retries'] !== undefined ? { retries: Number(h['retries']) } : {}),
      ...(h['disable'] === true ? { disable: true } : {}),
    }
  }
  for (const k of ['restart', 'container_name', 'hostname', 'user', 'working_dir', 'stop_signal', 'stop_grace_period'] as const) {
    if (s[k] !== undefined) svc[k] = scalar(s[k])
  }
  if (typeof s['init'] === 'boolean') svc.init = s['init']
  return svc
}

/** compose's short command syntax: a string is split as a shell would (quotes, no expansion). */
function commandOf(v: unknown, path: string): string[] | null {
  if (v === null) return null
  if (Array.isArray(v)) return v.map(String)
  if (typeof v !== 'string') throw new ComposeError(`${path} must be a string or a list`)
  const out: string[] = []
  let cur = ''
  let quote: string | undefined
  let inWord = false
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!
    if (quote) {
      if (c === quote) quote = undefined
      else if (c === '\\' && quote === '"' && i + 1 < v.length) cur += v[++i]
      else cur += c
    } else if (c === '"' || c === "'") {
      quote = c
      inWord = true
    } else if (c === '\\' && i + 1 < v.length) {
      cur += v[++i]
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur)
      cur = ''
      inWord = false
    } else {
      cur += c
      inWord = true
    }
  }
  if (quote) throw new ComposeError(`${path}: unterminated quote in ${JSON.stringify(v)}`)
  if (inWord) out.push(cur)
  return out
}

function environmentOf(s: Record<string, unknown>, name: string, loaded: LoadedProject): Record<string, string | null> {
  const out: Record<string, string | null> = {}
  // env_file first, in order; `environment` wins over them.
  const envFiles = s['env_file'] === undefined || s['env_file'] === null ? [] : Array.isArray(s['env_file']) ? s['env_file'] : [s['env_file']]
  for (const [i, f] of envFiles.entries()) {
    const spec = typeof f === 'string' ? { path: f, required: true } : (f as { path: string; required?: boolean })
    const file = absolute(scalar(spec.path), loaded.workingDir)
    if (!existsSync(file)) {
      if (spec.required === false) continue
      throw new ComposeError(`services.${name}.env_file[${i}]: env file ${file} not found: stat ${file}: no such file or directory`)
    }
    const lookup = (n: string): string | undefined => loaded.environment.get(n)
    try {
      for (const [k, v] of parseDotenv(readFileSync(file, 'utf8'), lookup, file)) out[k] = v
    } catch (err) {
      throw new ComposeError(`services.${name}.env_file: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  const env = s['environment']
  if (Array.isArray(env)) {
    for (const e of env.map(String)) {
      const eq = e.indexOf('=')
      // A name alone takes the value the project's environment has for it.
      if (eq < 0) out[e] = loaded.environment.get(e) ?? null
      else out[e.slice(0, eq)] = e.slice(eq + 1)
    }
  } else if (env !== undefined && env !== null) {
    for (const [k, v] of Object.entries(mapping(env, `services.${name}.environment`))) out[k] = v === null ? (loaded.environment.get(k) ?? null) : scalar(v)
  }
  return out
}

/**
 * One `ports` entry, as compose expands it: a container range (`9000-9001`) becomes one port each, paired with the
 * published range; a published range for a single port (`8000-8010:80`) stays a range the engine picks from.
 */
function portsOf(p: unknown, path: string): PortConfig[] {
  if (typeof p === 'number') return [{ target: p, protocol: 'tcp' }]
  if (p !== null && typeof p === 'object') {
    const o = p as Record<string, unknown>
    const target = Number(o['target'])
    if (!Number.isInteger(target) || target < 1 || target > 65535) throw new ComposeError(`${path}.target: invalid port "${scalar(o['target'] ?? '')}"`)
    return [{
      target,
      ...(o['published'] !== undefined ? { published: scalar(o['published']) } : {}),
      ...(o['host_ip'] !== undefined ? { host_ip: scalar(o['host_ip']) } : {}),
      protocol: scalar(o['protocol'] ?? 'tcp'),
      ...Object.fromEntries((['mode', 'name', 'app_protocol'] as const).filter((k) => o[k] !== undefined).map((k) => [k, scalar(o[k])])),
    }]
  }
  // [ip:][published:]target[/protocol], an IPv6 address in brackets; `ip::target` publishes on any port.
  const text = scalar(p)
  const m = /^(?:\[([0-9a-fA-F:]+)\]:|(\d{1,3}(?:\.\d{1,3}){3}):)?(?:(\d*)(?:-(\d+))?:)?(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(text)
  if (!m) throw new ComposeError(`${path}: invalid port "${text}"`)
  const hostIp = m[1] ?? m[2]
  const [hLo, hHi] = [m[3] ? Number(m[3]) : undefined, m[4] ? Number(m[4]) : undefined]
  const [cLo, cHi] = [Number(m[5]), m[6] ? Number(m[6]) : Number(m[5])]
  if (cHi < cLo || (hLo !== undefined && hHi !== undefined && hHi < hLo)) throw new ComposeError(`${path}: invalid port "${text}"`)
  const hostSpan = hLo === undefined ? undefined : (hHi ?? hLo) - hLo
  if (hostSpan !== undefined && cHi > cLo && hostSpan !== cHi - cLo) throw new ComposeError(`${path}: invalid ranges specified for container and host Ports: ${text}`)
  const out: PortConfig[] = []
  for (let c = cLo; c <= cHi; c++) {
    const published = hLo === undefined ? undefined : cLo === cHi && hHi !== undefined ? `${hLo}-${hHi}` : String(hLo + (c - cLo))
    out.push({ target: c, ...(published !== undefined ? { published } : {}), ...(hostIp !== undefined ? { host_ip: hostIp } : {}), protocol: m[7] ?? 'tcp' })
  }
  return out
}

function volumeOf(v: unknown, path: string, workingDir: string): VolumeMount {
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    const type = scalar(o['type'] ?? 'volume') as VolumeMount['type']
    const source = o['source'] === undefined ? undefined : scalar(o['source'])
    const subpath = type === 'image' ? (o['image'] as { subpath?: unknown } | undefined)?.subpath : undefined
    return {
      type,
      ...(source !== undefined ? { source: type === 'bind' ? absolute(source, workingDir) : source } : {}),
      target: scalar(o['target']),
      read_only: o['read_only'] === true,
      ...(subpath !== undefined ? { subpath: scalar(subpath) } : {}),
    }
  }
  const parts = scalar(v).split(':')
  if (parts.length === 1) return { type: 'volume', target: parts[0]!, read_only: false }
  const [source, target, mode = ''] = parts as [string, string, string?]
  const bind = source.startsWith('.') || source.startsWith('/') || source.startsWith('~')
  if (!target) throw new ComposeError(`${path}: invalid volume "${scalar(v)}"`)
  return { type: bind ? 'bind' : 'volume', source: bind ? absolute(source, workingDir) : source, target, read_only: mode.split(',').includes('ro') }
}


function networksOf(v: unknown, path: string): ServiceConfig['networks'] {
  if (v === undefined || v === null) return {}
  if (Array.isArray(v)) return Object.fromEntries(v.map((n) => [scalar(n), { aliases: [] }]))
  return Object.fromEntries(
    Object.entries(mapping(v, path)).map(([n, cfg]) => {
      const c = (cfg ?? {}) as { aliases?: string[]; ipv4_address?: string; priority?: number; gw_priority?: number }
      return [
        n,
        {
          aliases: (c.aliases ?? []).map(String),
          ...(c.ipv4_address ? { ipv4_address: c.ipv4_address } : {}),
          ...(typeof c.priority === 'number' ? { priority: c.priority } : {}),
          ...(typeof c.gw_priority === 'number' ? { gw_priority: c.gw_priority } : {}),
        },
      ]
    }),
  )
}

function dependsOf(v: unknown, path: string): ServiceConfig['depends_on'] {
  if (v === undefined || v === null) return {}
  if (Array.isArray(v)) return Object.fromEntries(v.map((n) => [scalar(n), { condition: 'service_started' as const, required: true, restart: false }]))
  return Object.fromEntries(
    Object.entries(mapping(v, path)).map(([n, cfg]) => {
      const c = (cfg ?? {}) as { condition?: string; required?: boolean; restart?: boolean }
      const condition = (c.condition ?? 'service_started') as DependencyCondition
      if (!['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition)) throw new ComposeError(`${path}.${n}.condition: invalid condition "${condition}"`)
      return [n, { condition, required: c.required ?? true, restart: c.restart ?? false }]
    }),
  )
}

export function labelsOf(v: unknown, path: string): Record<string, string> {
  if (v === undefined || v === null) return {}
  if (Array.isArray(v)) return Object.fromEntries(v.map((l: unknown) => scalar(l)).map((l) => [l.split('=')[0]!, l.includes('=') ? l.slice(l.indexOf('=') + 1) : '']))
  return Object.fromEntries(Object.entries(mapping(v, path)).map(([k, val]) => [k, scalar(val ?? '')]))
}

