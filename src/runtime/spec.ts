/**
 * Builds the OCI runtime spec (config.json) crun runs. Defaults follow Docker's: the same capability set,
 * masked and read-only /proc paths, /dev, /dev/pts, /dev/shm, /sys read-only, and the container's own
 * /etc/hosts, /etc/hostname and /etc/resolv.conf bind-mounted from its directory.
 */

import { readFileSync } from 'node:fs'
import type { OciSeccomp } from './seccomp.ts'

export interface OciMount {
  destination: string
  type: string
  source: string
  options?: string[]
}

export interface SpecInput {
  id: string
  rootfs: string
  args: string[]
  env: string[]
  cwd: string
  uid: number
  gid: number
  additionalGids: number[]
  hostname: string
  terminal: boolean
  /** The terminal's first size, from the client (`HostConfig.ConsoleSize`), so the process never sees 0x0. */
  consoleSize?: { height: number; width: number } | undefined
  /** Files under the container dir to bind over /etc/... */
  etcFiles: { hosts: string; hostname: string; resolvConf: string }
  readonlyRootfs: boolean
  privileged: boolean
  capAdd: string[]
  capDrop: string[]
  cgroupsPath: string
  /** `new`: an empty network namespace (loopback only); `host`: the host's; otherwise a namespace path to join. */
  network: 'new' | 'host' | { path: string }
  shmSize: number
  memoryLimit?: number | undefined
  memoryReservation?: number | undefined
  /** Memory plus swap; -1 for unlimited swap. */
  memorySwap?: number | undefined
  oomKillDisable?: boolean
  pidsLimit?: number | undefined
  cpuShares?: number | undefined
  nanoCpus?: number | undefined
  cpuPeriod?: number | undefined
  cpuQuota?: number | undefined
  cpusetCpus?: string | undefined
  cpusetMems?: string | undefined
  /** `--ulimit nofile=1024:2048` as Docker's Ulimits. */
  ulimits?: Array<{ Name: string; Soft: number; Hard: number }>
  noNewPrivileges: boolean
  /** Volumes, binds and tmpfs mounts of the container, after the defaults. */
  extraMounts: OciMount[]
  /** undefined: no filter (privileged, or `seccomp=unconfined`). */
  seccomp?: OciSeccomp | undefined
  sysctl?: Record<string, string>
  /** `--device`: nodes made in the container and allowed in its device cgroup. */
  devices?: Array<{ path: string; type: 'c' | 'b'; major: number; minor: number; fileMode: number; uid: number; gid: number; access: string }>
  /** `--device-cgroup-rule`s: access to device numbers, without a device node (major or minor -1 for any). */
  deviceRules?: DeviceRule[]
  /** pid, ipc and uts: a new namespace (undefined), the host's (`host`), or one to join. */
  pidNs?: 'host' | { path: string } | undefined
  ipcNs?: 'host' | { path: string } | undefined
  utsNs?: 'host' | undefined
  /** A cgroup namespace of its own (`private`), or the host's (v1 and hybrid hosts' default). */
  cgroupNs?: 'private' | 'host' | undefined
}

export const defaultCapabilities = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
]

const maskedPaths = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
]
const readonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']

/** Capability numbers, as the kernel counts them (linux/capability.h). */
const capabilityBits: Record<string, number> = Object.fromEntries(
  [
    'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
    'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
    'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
    'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
    'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
  ].map((name, bit) => [`CAP_${name}`, bit]),
)

let bounding: string[] | undefined
/**
 * Every capability the daemon itself may hand out (its bounding set): what `--privileged` and `--cap-add ALL`
 * give, as in Docker. Hosts that run caisd inside a restricted environment hold fewer than all of them.
 */
function grantableCapabilities(): string[] {
  if (bounding) return bounding
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
  const mask = hex ? BigInt(`0x${hex}`) : (1n << 41n) - 1n
  bounding = allCapabilities.filter((c) => (mask >> BigInt(capabilityBits[c] ?? 63)) & 1n)
  return bounding
}

export function capabilitySet(capAdd: readonly string[], capDrop: readonly string[], privileged: boolean): string[] {
  const norm = (c: string): string => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`)
  if (privileged) return grantableCapabilities()
  const drop = capDrop.map(norm)
  let caps = drop.includes('CAP_ALL') ? [] : defaultCapabilities.filter((c) => !drop.includes(c))
  const add = capAdd.map(norm)
  if (add.includes('CAP_ALL')) caps = [...grantableCapabilities()]
  else for (const c of add) if (!caps.includes(c)) caps.push(c)
  return caps
}

const allCapabilities = [
  ...defaultCapabilities, 'CAP_DAC_READ_SEARCH', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_LEASE', 'CAP_AUDIT_CONTROL',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
]

/** Whether a built spec's /dev is the tmpfs the runtime fills (a user's mount over /dev replaces it). */
export function ownsDev(spec: object): boolean {
  const mounts = (spec as { mounts?: OciMount[] }).mounts ?? []
  return mounts.filter((m) => m.destination.replace(/\/+$/, '') === '/dev').every((m) => m.type === 'tmpfs' && m.source === 'tmpfs')
}

export function buildSpec(i: SpecInput): object {
  const caps = capabilitySet(i.capAdd, i.capDrop, i.privileged)
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', i.privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${i.shmSize}`] },
    { destination: '/etc/resolv.conf', type: 'bind', source: i.etcFiles.resolvConf, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hostname', type: 'bind', source: i.etcFiles.hostname, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hosts', type: 'bind', source: i.etcFiles.hosts, options: ['rbind', 'rprivate'] },
  ].filter((m) => !i.extraMounts.some((x) => x.destination === m.destination))
  mounts.push(...i.extraMounts)
  const resources: Record<string, unknown> = {
    devices: [
      { allow: i.privileged, access: 'rwm' },
      ...defaultDeviceRules,
      ...(i.devices ?? []).map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.access })),
      ...(i.deviceRules ?? []).map((r) => ({ allow: true, type: r.type, ...(r.major >= 0 ? { major: r.major } : {}), ...(r.minor >= 0 ? { minor: r.minor } : {}), access: r.access })),
    ],
  }
  Object.assign(resources, linuxResources(i))

  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'mount' }]
  const join = (type: string, mode: 'host' | { path: string } | undefined): void => {
    if (mode === undefined) namespaces.push({ type })
    else if (mode !== 'host') namespaces.push({ type, path: mode.path })
  }
  join('pid', i.pidNs)
  join('ipc', i.ipcNs)
  join('uts', i.utsNs)
  if (i.cgroupNs === 'private') namespaces.push({ type: 'cgroup' })
  if (i.network === 'new') namespaces.push({ type: 'network' })
  else if (i.network !== 'host') namespaces.push({ type: 'network', path: i.network.path })
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: i.terminal,
      ...(i.terminal && i.consoleSize ? { consoleSize: i.consoleSize } : {}),
      user: { uid: i.uid, gid: i.gid, additionalGids: i.additionalGids.length > 0 ? i.additionalGids : undefined },
      args: i.args,
      env: i.env,
      cwd: i.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: i.noNewPrivileges,
      ...(i.ulimits?.length ? { rlimits: i.ulimits.map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard })) } : {}),
      oomScoreAdj: 0,
    },
    root: { path: i.rootfs, readonly: i.readonlyRootfs },
    // A host UTS namespace keeps the host's name: setting one would rename the host.
    ...(i.utsNs === 'host' ? {} : { hostname: i.hostname }),
    mounts,
    linux: {
      cgroupsPath: i.cgroupsPath,
      resources,
      namespaces,
      maskedPaths: i.privileged ? [] : maskedPaths,
      readonlyPaths: i.privileged ? [] : readonlyPaths,
      ...(i.seccomp ? { seccomp: i.seccomp } : {}),
      ...(i.sysctl && Object.keys(i.sysctl).length > 0 ? { sysctl: i.sysctl } : {}),
      ...(i.devices?.length ? { devices: i.devices.map(({ access: _a, ...d }) => d) } : {}),
    },
  }
}

/** Docker's default device cgroup allow-list: null, zero, full, random, urandom, tty, console, ptmx, pts. */
const defaultDeviceRules = [
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
]

export interface DeviceRule {
  type: 'a' | 'b' | 'c'
  major: number
  minor: number
  access: string
}

/** A device cgroup rule as Docker takes it: `c 1:3 mr`, `b *:* rwm`, `a *:* rwm`. */
export function parseDeviceRule(text: string): DeviceRule {
  const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]{1,3})$/.exec(text.trim())
  if (!m) throw new Error(`invalid device cgroup rule format: '${text}'`)
  return { type: m[1] as DeviceRule['type'], major: m[2] === '*' ? -1 : Number(m[2]), minor: m[3] === '*' ? -1 : Number(m[3]), access: m[4]! }
}

/** The resource limits of an OCI spec (`linux.resources` less devices), also what `crun update` takes. */
export function linuxResources(i: Pick<SpecInput, 'memoryLimit' | 'memoryReservation' | 'memorySwap' | 'oomKillDisable' | 'pidsLimit' | 'cpuShares' | 'nanoCpus' | 'cpuPeriod' | 'cpuQuota' | 'cpusetCpus' | 'cpusetMems'>): Record<string, unknown> {
  const resources: Record<string, unknown> = {}
  const memory: Record<string, number | boolean> = {}
  if (i.memoryLimit) memory['limit'] = i.memoryLimit
  if (i.memoryReservation) memory['reservation'] = i.memoryReservation
  // Docker's default swap is as much again as the memory limit; -1 is unlimited.
  if (i.memoryLimit) memory['swap'] = i.memorySwap && i.memorySwap !== 0 ? i.memorySwap : i.memoryLimit * 2
  if (i.oomKillDisable) memory['disableOOMKiller'] = true
  if (Object.keys(memory).length > 0) resources['memory'] = memory
  if (i.pidsLimit && i.pidsLimit > 0) resources['pids'] = { limit: i.pidsLimit }
  const cpu: Record<string, number | string> = {}
  if (i.cpuShares) cpu['shares'] = i.cpuShares
  if (i.nanoCpus) {
    cpu['period'] = 100_000
    cpu['quota'] = Math.round((i.nanoCpus / 1e9) * 100_000)
  }
  if (i.cpuPeriod) cpu['period'] = i.cpuPeriod
  if (i.cpuQuota) cpu['quota'] = i.cpuQuota
  if (i.cpusetCpus) cpu['cpus'] = i.cpusetCpus
  if (i.cpusetMems) cpu['mems'] = i.cpusetMems
  if (Object.keys(cpu).length > 0) resources['cpu'] = cpu
  return resources
}
