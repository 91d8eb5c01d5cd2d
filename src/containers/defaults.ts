import type { DnsSettings } from './etc-files.ts'
import { type LogConfig, effectiveLogConfig } from './log-config.ts'
import { stringList } from './record.ts'

export interface Ulimit {
  Name: string
  Soft: number
  Hard: number
}

/** The daemon's settings for containers that do not make their own (daemon.json or caisd's flags). */
export interface ContainerDefaults {
  /** `--log-driver`, `--log-opt`. */
  logConfig: LogConfig
  /** `--dns`, `--dns-search`, `--dns-opt`: resolv.conf's, for a container without its own. */
  dns: DnsSettings
  /** `--default-ulimit`: each one a container does not set. */
  ulimits: Ulimit[]
  /** `--default-shm-size`, in bytes. */
  shmSize: number
  /** `--no-new-privileges`: containers get it unless they turn it off (`--security-opt no-new-privileges=false`). */
  noNewPrivileges: boolean
  /** `--seccomp-profile`: the profile's JSON (read when the daemon starts), or `unconfined`; the builtin one when unset. */
  seccompProfile: string | undefined
}

export const builtinDefaults: ContainerDefaults = {
  logConfig: { Type: 'json-file', Config: {} },
  dns: { servers: [], search: [], options: [] },
  ulimits: [],
  shmSize: 64 * 1024 * 1024,
  noNewPrivileges: false,
  seccompProfile: undefined,
}

/** What a new container's HostConfig takes from the daemon, as Docker records it (so `inspect` shows it). */
export function applyCreateDefaults(hc: Record<string, unknown> & { LogConfig: LogConfig }, d: ContainerDefaults): void {
  hc.LogConfig = effectiveLogConfig(hc.LogConfig, d.logConfig)
  if (!hc['ShmSize']) hc['ShmSize'] = d.shmSize
  const own = (hc['Ulimits'] as Ulimit[] | null | undefined) ?? []
  const missing = d.ulimits.filter((u) => !own.some((o) => o.Name === u.Name))
  if (missing.length > 0) hc['Ulimits'] = [...own, ...missing]
}

/** resolv.conf's settings: the container's own, each one the daemon's when it has none. */
export function dnsFor(hc: Record<string, unknown>, d: ContainerDefaults): DnsSettings {
  const own = (k: string, fallback: readonly string[]): string[] => {
    const v = stringList(hc, k)
    return v.length > 0 ? v : [...fallback]
  }
  return { servers: own('Dns', d.dns.servers), search: own('DnsSearch', d.dns.search), options: own('DnsOptions', d.dns.options) }
}

/** Whether the process gets no_new_privs: the container's `--security-opt no-new-privileges[=bool]`, else the daemon's. */
export function noNewPrivileges(hc: Record<string, unknown>, d: ContainerDefaults): boolean {
  const opt = ((hc['SecurityOpt'] as string[] | null | undefined) ?? []).findLast((o) => /^no-new-privileges([:=](true|false))?$/.test(o))
  return opt === undefined ? d.noNewPrivileges : !/(:|=)false$/.test(opt)
}
