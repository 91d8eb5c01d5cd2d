import { posix } from 'node:path'
import { invalid } from '../lib/errors.ts'
import { unifiedCgroups } from '../runtime/cgroups.ts'
import { parseDeviceRule } from '../runtime/spec.ts'
import type { ImageConfig } from '../images/types.ts'
import type { ContainerConfig, ContainerCreateBody, HealthConfig, HostConfig } from '../wire/types.ts'

const nameRe = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/
export const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export function validateName(name: string): void {
  if (!nameRe.test(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)
}

/** Merges the create request with the image's config, as Docker does, into the container's Config. */
export function mergeConfig(body: ContainerCreateBody, image: ImageConfig, id: string): ContainerConfig {
  const ic = image.config ?? {}
  const entrypointGiven = body.Entrypoint !== undefined && body.Entrypoint !== null
  let entrypoint = entrypointGiven ? body.Entrypoint! : (ic.Entrypoint ?? null)
  if (entrypoint && entrypoint.length === 1 && entrypoint[0] === '') entrypoint = null
  const cmdGiven = body.Cmd !== undefined && body.Cmd !== null && body.Cmd.length > 0
  const cmd = cmdGiven ? body.Cmd! : entrypointGiven ? null : (ic.Cmd ?? null)
  const env = mergeEnv(ic.Env ?? [], body.Env ?? [])
  if (body.WorkingDir && !body.WorkingDir.startsWith('/')) {
    throw invalid(`the working directory '${body.WorkingDir}' is invalid, it needs to be an absolute path`)
  }
  return {
    Hostname: body.Hostname || id.slice(0, 12),
    Domainname: body.Domainname ?? '',
    User: body.User || ic.User || '',
    AttachStdin: body.AttachStdin ?? false,
    AttachStdout: body.AttachStdout ?? false,
    AttachStderr: body.AttachStderr ?? false,
    ExposedPorts: { ...ic.ExposedPorts, ...body.ExposedPorts },
    Tty: body.Tty ?? false,
    OpenStdin: body.OpenStdin ?? false,
    StdinOnce: body.StdinOnce ?? false,
    Env: env,
    Cmd: cmd,
    Image: body.Image,
    Volumes: body.Volumes ?? ic.Volumes ?? null,
    WorkingDir: body.WorkingDir ? posix.normalize(body.WorkingDir) : ic.WorkingDir || '',
    Entrypoint: entrypoint,
    OnBuild: null,
    Labels: { ...ic.Labels, ...body.Labels },
    ...(body.StopSignal || ic.StopSignal ? { StopSignal: body.StopSignal || ic.StopSignal } : {}),
    ...(body.StopTimeout !== undefined ? { StopTimeout: body.StopTimeout } : {}),
    ...(body.Healthcheck ? { Healthcheck: validHealthcheck(body.Healthcheck) } : {}),
  }
}

/**
 * Docker's bounds on health check settings (durations in nanoseconds). A zero or null duration means "the
 * default" (docker-compose 1.29 sends null for each one a service leaves out), so only set ones are checked.
 */
function validHealthcheck(h: HealthConfig): HealthConfig {
  const ms = 1_000_000
  const out: HealthConfig = { ...h }
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = h[k] as number | null | undefined
    if (v === null || v === undefined || v === 0) {
      delete out[k]
      continue
    }
    if (typeof v !== 'number' || v < ms) throw invalid(`${k} in Healthcheck cannot be less than 1ms`)
  }
  if ((h.Retries as number | null | undefined) === null) delete out.Retries
  else if (h.Retries !== undefined && h.Retries < 0) throw invalid('Retries in Healthcheck cannot be negative')
  if (h.Test?.length && !['NONE', 'CMD', 'CMD-SHELL'].includes(h.Test[0]!)) throw invalid(`unknown healthcheck type: ${h.Test[0]}`)
  return out
}

/** Later entries override earlier ones by key; PATH is always present. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const out = new Map<string, string>()
  for (const e of [...base, ...extra]) {
    if (typeof e !== 'string') throw invalid('invalid environment variable')
    const eq = e.indexOf('=')
    const key = eq < 0 ? e : e.slice(0, eq)
    if (key === '') throw invalid(`invalid environment variable: ${e}`)
    out.set(key, e)
  }
  if (!out.has('PATH')) out.set('PATH', `PATH=${defaultPath}`)
  return [...out.values()]
}

/** Docker's checks of resource settings at create (and update), with its messages. */
export function validateResources(hc: Record<string, unknown>, onlineCpus: number): void {
  const num = (k: string): number => (typeof hc[k] === 'number' ? hc[k] : 0)
  const memory = num('Memory')
  const swap = num('MemorySwap')
  const reservation = num('MemoryReservation')
  if (memory < 0 || swap < -1 || reservation < 0) throw invalid('invalid memory settings: values cannot be negative')
  if (memory > 0 && memory < 6 * 1024 * 1024) throw invalid('Minimum memory limit allowed is 6MB')
  if (swap > 0 && memory === 0) throw invalid('You should always set the Memory limit when using Memoryswap limit, see usage')
  if (memory > 0 && swap > 0 && swap < memory) throw invalid('Minimum memoryswap limit should be larger than memory limit, see usage')
  if (memory > 0 && reservation > memory) throw invalid('Minimum memory limit can not be less than memory reservation limit, see usage')
  const nano = num('NanoCpus')
  if (nano < 0 || nano > onlineCpus * 1e9) throw invalid(`Range of CPUs is from 0.01 to ${onlineCpus}.00, as there are only ${onlineCpus} CPUs available`)
  if (nano > 0 && (num('CpuQuota') > 0 || num('CpuPeriod') > 0)) throw invalid('Conflicting options: Nano CPUs and CPU Period cannot both be set')
  if (num('CpuShares') < 0) throw invalid('invalid CPU shares: cannot be negative')
  const cpuset = hc['CpusetCpus']
  if (typeof cpuset === 'string' && cpuset !== '') {
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(cpuset)) throw invalid(`Invalid value ${cpuset} for cpuset cpus`)
    const wanted = cpuset.split(',').flatMap((r) => {
      const [lo, hi = lo] = r.split('-').map(Number) as [number, number?]
      return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i)
    })
    if (wanted.some((c) => c >= onlineCpus)) throw invalid(`Requested CPUs are not available - requested ${cpuset}, available: 0-${onlineCpus - 1}`)
  }
  if (num('PidsLimit') < -1) throw invalid('invalid PIDs limit')
  for (const u of (hc['Ulimits'] as Array<{ Name?: string; Soft?: number; Hard?: number }> | null | undefined) ?? []) {
    if (!u.Name || !/^[a-z]+$/.test(u.Name)) throw invalid(`invalid ulimit type: ${u.Name}`)
    if ((u.Soft ?? 0) > (u.Hard ?? 0)) throw invalid(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`)
  }
}

export function normaliseHostConfig(h: Partial<HostConfig> | undefined): HostConfig {
  const hc = { ...h } as HostConfig
  hc.Binds = h?.Binds ?? null
  hc.NetworkMode = !h?.NetworkMode || h.NetworkMode === 'default' ? 'bridge' : h.NetworkMode
  hc.PortBindings = h?.PortBindings ?? {}
  hc.RestartPolicy = h?.RestartPolicy?.Name ? h.RestartPolicy : { Name: 'no', MaximumRetryCount: 0 }
  hc.AutoRemove = h?.AutoRemove ?? false
  // The daemon's default IPC mode, as dockerd's (default-ipc-mode) fills it in.
  hc['IpcMode'] = h?.['IpcMode'] || 'private'
  // Docker's default cgroup namespace: private where cgroups are v2 alone, the host's on v1 and hybrid hosts.
  hc['CgroupnsMode'] = (h as { CgroupnsMode?: string } | undefined)?.CgroupnsMode || (unifiedCgroups ? 'private' : 'host')
  // No driver means the daemon's (effectiveLogConfig, at create); options without one are for it, as Docker's.
  hc.LogConfig = { Type: h?.LogConfig?.Type || '', Config: h?.LogConfig?.Config ?? {} }
  hc.Privileged = h?.Privileged ?? false
  hc.ReadonlyRootfs = h?.ReadonlyRootfs ?? false
  hc.CapAdd = h?.CapAdd ?? null
  hc.CapDrop = h?.CapDrop ?? null
  hc.Init = h?.Init ?? null
  // The daemon's default runtime when empty (runtimes.ts, at create).
  hc['Runtime'] = (h as { Runtime?: string } | undefined)?.Runtime ?? ''
  for (const rule of (hc['DeviceCgroupRules'] as string[] | null | undefined) ?? []) {
    try {
      parseDeviceRule(rule)
    } catch (err) {
      throw invalid((err as Error).message)
    }
  }
  if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(hc.RestartPolicy.Name)) {
    throw invalid(`invalid restart policy '${hc.RestartPolicy.Name}'`)
  }
  if (hc.AutoRemove && hc.RestartPolicy.Name !== 'no') {
    throw invalid('conflicting options: cannot specify both --restart and --rm')
  }
  return hc
}

/** A `ConsoleSize` (of a create's HostConfig, an exec's create or start) is `[height, width]`; zeros mean the client did not say. */
export function consoleSizeOf(value: unknown): { height: number; width: number } | undefined {
  if (!Array.isArray(value) || value.length !== 2) return undefined
  const [height, width] = value as [unknown, unknown]
  return typeof height === 'number' && typeof width === 'number' && height > 0 && width > 0 ? { height, width } : undefined
}
