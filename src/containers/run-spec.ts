import { buildSpec, type linuxResources } from '../runtime/spec.ts'
import { containerCgroup } from '../runtime/cgroups.ts'
import type { VolumeService } from '../volumes/service.ts'
import { consoleSizeOf } from './create-config.ts'
import { type MountPoint, prepareMounts } from './mounts.ts'
import type { ContainerRecord } from './record.ts'
import { securitySpec } from './security.ts'
import { resolveUser } from './user.ts'

/** Where `--init`'s process is bound in, as Docker's. */
const initPath = '/sbin/docker-init'

export interface RunSpecDeps {
  volumes: VolumeService
  /** The init process bound in for `--init`. */
  initBinary: string
  /** Another container by reference, for the namespaces a container joins (`--pid container:…`). */
  lookup: (ref: string) => ContainerRecord
  /** For a network namespace of the container's own: whether any of its networks has IPv6. */
  ipv6: boolean
  /** What its legacy links tell it (`ALIAS_PORT_…`); its own environment wins over these. */
  linkEnv?: string[]
  /** no_new_privs for its process: its `--security-opt`, else the daemon's `--no-new-privileges`. */
  noNewPrivileges: boolean
  /** The daemon's `--seccomp-profile` (JSON, or `unconfined`), for a container without a seccomp option. */
  seccompProfile?: string | undefined
  /** Mounts an image mount's files read-only on the host; returns where. */
  mountImage: (m: MountPoint, index: number) => Promise<string>
}

/**
 * The OCI spec of a container's run: its record's config and host config over its mounted rootfs (`merged`, where
 * its user is looked up), in the network namespace its start prepared.
 */
export async function runSpec(rec: ContainerRecord, merged: string, network: 'host' | 'new' | { path: string }, deps: RunSpecDeps): Promise<object> {
  const hc = rec.hostConfig
  const user = await resolveUser(merged, rec.config.User, (hc['GroupAdd'] as string[] | undefined) ?? [])
  const own = new Set(rec.config.Env.map((e) => e.split('=')[0]))
  const env = [...(deps.linkEnv ?? []).filter((e) => !own.has(e.split('=')[0])), ...rec.config.Env]
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${rec.config.Hostname}`)
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`)
  if (rec.config.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm')
  const extraMounts = await prepareMounts(rec.mounts ?? [], merged, rec.id, deps.volumes, deps.mountImage)
  // --init: catatonit (static, from Debian) runs as PID 1, reaps zombies and forwards signals.
  const init = hc.Init === true
  if (init) extraMounts.push({ destination: initPath, type: 'bind', source: deps.initBinary, options: ['rbind', 'ro', 'rprivate'] })
  const security = await securitySpec(rec, deps.lookup, deps.seccompProfile)
  // In a namespace of its own, IPv6 is off unless one of its networks has it, as Docker's does (CVE-2024-32473:
  // an IPv4-only network must not leave eth0 with a link-local address and router advertisements). A --sysctl
  // of the container's own says otherwise.
  if (network !== 'host' && (network === 'new' || !network.path.startsWith('/proc/')) && !deps.ipv6) {
    security.sysctl = { 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1', ...security.sysctl }
  }
  return buildSpec({
    ...security,
    extraMounts,
    id: rec.id,
    rootfs: merged,
    args: init ? [initPath, '--', rec.path, ...rec.args] : [rec.path, ...rec.args],
    env,
    cwd: rec.config.WorkingDir || '/',
    uid: user.uid,
    gid: user.gid,
    additionalGids: user.additionalGids,
    hostname: rec.config.Hostname,
    terminal: rec.config.Tty,
    consoleSize: consoleSizeOf(hc['ConsoleSize']),
    etcFiles: { hosts: rec.hostsPath, hostname: rec.hostnamePath, resolvConf: rec.resolvConfPath },
    readonlyRootfs: hc.ReadonlyRootfs,
    privileged: hc.Privileged,
    capAdd: hc.CapAdd ?? [],
    capDrop: hc.CapDrop ?? [],
    cgroupsPath: containerCgroup(rec.id),
    network,
    shmSize: (hc['ShmSize'] as number | undefined) || 64 * 1024 * 1024,
    ...resourcesOf(hc),
    ulimits: (hc['Ulimits'] as Array<{ Name: string; Soft: number; Hard: number }> | null | undefined) ?? [],
    noNewPrivileges: deps.noNewPrivileges,
  })
}

/** The resource limits of a HostConfig, as the OCI spec and `crun update` take them. */
export function resourcesOf(hc: Record<string, unknown>): Parameters<typeof linuxResources>[0] {
  return {
    memoryLimit: hc['Memory'] as number | undefined,
    memoryReservation: hc['MemoryReservation'] as number | undefined,
    memorySwap: hc['MemorySwap'] as number | undefined,
    oomKillDisable: hc['OomKillDisable'] === true,
    pidsLimit: hc['PidsLimit'] as number | undefined,
    cpuShares: hc['CpuShares'] as number | undefined,
    nanoCpus: hc['NanoCpus'] as number | undefined,
    cpuPeriod: hc['CpuPeriod'] as number | undefined,
    cpuQuota: hc['CpuQuota'] as number | undefined,
    cpusetCpus: hc['CpusetCpus'] as string | undefined,
    cpusetMems: hc['CpusetMems'] as string | undefined,
  }
}
