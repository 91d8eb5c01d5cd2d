import { stat } from 'node:fs/promises'
import { invalid, notFound } from '../lib/errors.ts'
import { type OciSeccomp, defaultSeccomp, seccompFromProfile } from '../runtime/seccomp.ts'
import { capabilitySet, parseDeviceRule, type SpecInput } from '../runtime/spec.ts'
import type { ContainerRecord } from './record.ts'

/** Sysctls that belong to a container's own namespaces, as Docker allows them (net.* only with its own network). */
function sysctlAllowed(key: string, hostNetwork: boolean): boolean {
  if (/^kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)$/.test(key) || key.startsWith('fs.mqueue.')) return true
  return key.startsWith('net.') && !hostNetwork
}

/** Checks the security settings of a new container; Docker's messages for what it refuses. */
export async function validateSecurity(hc: Record<string, unknown>, hostname: string): Promise<void> {
  for (const d of (hc['Devices'] as Array<{ PathOnHost?: string; CgroupPermissions?: string }> | null | undefined) ?? []) {
    const st = d.PathOnHost ? await stat(d.PathOnHost).catch(() => undefined) : undefined
    if (!st || (!st.isCharacterDevice() && !st.isBlockDevice())) {
      throw invalid(`error gathering device information while adding custom device "${d.PathOnHost ?? ''}": no such file or directory`)
    }
    if (d.CgroupPermissions && !/^[rwm]+$/.test(d.CgroupPermissions)) throw invalid(`invalid device cgroup permissions: ${d.CgroupPermissions}`)
  }
  for (const opt of (hc['SecurityOpt'] as string[] | null | undefined) ?? []) {
    const [key, value = ''] = opt.includes('=') ? [opt.slice(0, opt.indexOf('=')), opt.slice(opt.indexOf('=') + 1)] : opt.split(':')
    if (key === 'seccomp') {
      if (value !== 'unconfined' && value !== 'builtin') seccompFromProfile(value)
    } else if (!['no-new-privileges', 'label', 'apparmor', 'systempaths', 'writable-cgroups'].includes(key!)) {
      throw invalid(`invalid --security-opt 2: "${opt}"`)
    }
  }
  const hostNetwork = hc['NetworkMode'] === 'host'
  for (const key of Object.keys((hc['Sysctls'] as Record<string, string> | null | undefined) ?? {})) {
    if (!sysctlAllowed(key, hostNetwork)) {
      throw invalid(hostNetwork && key.startsWith('net.') ? `sysctl "${key}" is not allowed in host network namespace` : `sysctl "${key}" is not allowed: not a namespaced sysctl`)
    }
  }
  for (const k of ['PidMode', 'IpcMode', 'UTSMode'] as const) {
    const v = (hc[k] as string | undefined) ?? ''
    const ok = v === '' || v === 'host' || v.startsWith('container:') || (k === 'IpcMode' && ['private', 'shareable', 'none'].includes(v)) || (k === 'PidMode' && v === 'private')
    if (!ok) throw invalid(`invalid ${{ PidMode: 'PID', IpcMode: 'IPC', UTSMode: 'UTS' }[k]} mode: ${v}`)
  }
  if (hc['UTSMode'] === 'host' && hostname) throw invalid('Conflicting options: hostname and the UTS mode')
  const cgroupns = (hc['CgroupnsMode'] as string | undefined) ?? ''
  if (!['', 'host', 'private'].includes(cgroupns)) throw invalid(`invalid cgroup namespace mode: ${cgroupns}`)
}

/**
 * The spec inputs that come from a container's security settings: the seccomp filter (none when privileged or
 * unconfined), sysctls, devices, and the pid/ipc/uts namespaces to share. `lookup` finds a container to join.
 */
export async function securitySpec(
  rec: ContainerRecord,
  lookup: (ref: string) => ContainerRecord,
  /** The daemon's `seccomp-profile` (a profile's JSON, or `unconfined`), for a container that names none. */
  daemonSeccomp?: string,
): Promise<Pick<SpecInput, 'seccomp' | 'sysctl' | 'devices' | 'deviceRules' | 'pidNs' | 'ipcNs' | 'utsNs' | 'cgroupNs'>> {
  const hc = rec.hostConfig as unknown as Record<string, unknown>
  const opts = (hc['SecurityOpt'] as string[] | null | undefined) ?? []
  let seccomp: OciSeccomp | undefined
  const seccompOpt = opts.find((o) => o.startsWith('seccomp=') || o.startsWith('seccomp:'))?.slice('seccomp='.length) ?? daemonSeccomp
  if (!rec.hostConfig.Privileged && seccompOpt !== 'unconfined') {
    seccomp = seccompOpt && seccompOpt !== 'builtin' ? seccompFromProfile(seccompOpt) : defaultSeccomp(capabilitySet(rec.hostConfig.CapAdd ?? [], rec.hostConfig.CapDrop ?? [], false))
  }
  const devices: NonNullable<SpecInput['devices']> = []
  for (const d of (hc['Devices'] as Array<{ PathOnHost: string; PathInContainer?: string; CgroupPermissions?: string }> | null | undefined) ?? []) {
    const st = await stat(d.PathOnHost).catch(() => undefined)
    if (!st || (!st.isCharacterDevice() && !st.isBlockDevice())) {
      throw notFound(`error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`)
    }
    devices.push({
      path: d.PathInContainer || d.PathOnHost,
      type: st.isCharacterDevice() ? 'c' : 'b',
      major: (st.rdev >> 8) & 0xfff,
      minor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00),
      fileMode: st.mode & 0o777,
      uid: 0,
      gid: 0,
      access: d.CgroupPermissions || 'rwm',
    })
  }
  const ns = (mode: string | undefined, kind: 'pid' | 'ipc'): 'host' | { path: string } | undefined => {
    if (mode === 'host') return 'host'
    if (mode?.startsWith('container:')) {
      const target = lookup(mode.slice('container:'.length))
      if (!target.state.Running) throw invalid(`cannot join ${kind} namespace of a non running container: container ${target.id} is ${target.state.Status}`)
      return { path: `/proc/${target.state.Pid}/ns/${kind}` }
    }
    return undefined
  }
  return {
    seccomp,
    sysctl: (hc['Sysctls'] as Record<string, string> | null | undefined) ?? {},
    devices,
    deviceRules: ((hc['DeviceCgroupRules'] as string[] | null | undefined) ?? []).map(parseDeviceRule),
    pidNs: ns(hc['PidMode'] as string | undefined, 'pid'),
    ipcNs: ns(hc['IpcMode'] as string | undefined, 'ipc'),
    utsNs: hc['UTSMode'] === 'host' ? 'host' : undefined,
    cgroupNs: hc['CgroupnsMode'] === 'private' ? 'private' : 'host',
  }
}
