import { invalid } from '../lib/errors.ts'
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
    WorkingDir: body.WorkingDir || ic.WorkingDir || '',
    Entrypoint: entrypoint,
    OnBuild: null,
    Labels: { ...ic.Labels, ...body.Labels },
    ...(body.StopSignal || ic.StopSignal ? { StopSignal: body.StopSignal || ic.StopSignal } : {}),
    ...(body.StopTimeout !== undefined ? { StopTimeout: body.StopTimeout } : {}),
    ...(body.Healthcheck ? { Healthcheck: validHealthcheck(body.Healthcheck) } : {}),
  }
}

/** Docker's bounds on health check settings (durations in nanoseconds). */
function validHealthcheck(h: HealthConfig): HealthConfig {
  const ms = 1_000_000
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = h[k]
    if (v !== undefined && v !== 0 && v < ms) throw invalid(`${k} in Healthcheck cannot be less than 1ms`)
    if (v !== undefined && v < 0) throw invalid(`${k} in Healthcheck cannot be negative`)
  }
  if (h.Retries !== undefined && h.Retries < 0) throw invalid('Retries in Healthcheck cannot be negative')
  if (h.Test?.length && !['NONE', 'CMD', 'CMD-SHELL'].includes(h.Test[0]!)) throw invalid(`unknown healthcheck type: ${h.Test[0]}`)
  return h
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

export function normaliseHostConfig(h: Partial<HostConfig> | undefined): HostConfig {
  const hc = { ...h } as HostConfig
  hc.Binds = h?.Binds ?? null
  hc.NetworkMode = !h?.NetworkMode || h.NetworkMode === 'default' ? 'bridge' : h.NetworkMode
  hc.PortBindings = h?.PortBindings ?? {}
  hc.RestartPolicy = h?.RestartPolicy?.Name ? h.RestartPolicy : { Name: 'no', MaximumRetryCount: 0 }
  hc.AutoRemove = h?.AutoRemove ?? false
  hc.LogConfig = h?.LogConfig?.Type ? { Type: h.LogConfig.Type, Config: h.LogConfig.Config ?? {} } : { Type: 'json-file', Config: {} }
  hc.Privileged = h?.Privileged ?? false
  hc.ReadonlyRootfs = h?.ReadonlyRootfs ?? false
  hc.CapAdd = h?.CapAdd ?? null
  hc.CapDrop = h?.CapDrop ?? null
  hc.Init = h?.Init ?? null
  if (!['json-file', 'none', 'k8s-file', 'local'].includes(hc.LogConfig.Type)) {
    throw invalid(`logger: no log driver named '${hc.LogConfig.Type}' is registered`)
  }
  if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(hc.RestartPolicy.Name)) {
    throw invalid(`invalid restart policy '${hc.RestartPolicy.Name}'`)
  }
  if (hc.AutoRemove && hc.RestartPolicy.Name !== 'no') {
    throw invalid('conflicting options: cannot specify both --restart and --rm')
  }
  return hc
}
