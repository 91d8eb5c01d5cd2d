/**
 * Builds the OCI runtime spec (config.json) crun runs. Defaults follow Docker's: the same capability set,
 * masked and read-only /proc paths, /dev, /dev/pts, /dev/shm, /sys read-only, and the container's own
 * /etc/hosts, /etc/hostname and /etc/resolv.conf bind-mounted from its directory.
 */

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
  pidsLimit?: number | undefined
  cpuShares?: number | undefined
  nanoCpus?: number | undefined
  noNewPrivileges: boolean
  /** Volumes, binds and tmpfs mounts of the container, after the defaults. */
  extraMounts: OciMount[]
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

export function capabilitySet(capAdd: readonly string[], capDrop: readonly string[], privileged: boolean): string[] {
  const norm = (c: string): string => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`)
  if (privileged) return allCapabilities
  const drop = capDrop.map(norm)
  let caps = drop.includes('CAP_ALL') ? [] : defaultCapabilities.filter((c) => !drop.includes(c))
  const add = capAdd.map(norm)
  if (add.includes('CAP_ALL')) caps = [...allCapabilities]
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
    devices: [{ allow: i.privileged, access: 'rwm' }, ...defaultDeviceRules],
  }
  if (i.memoryLimit) resources['memory'] = { limit: i.memoryLimit }
  if (i.pidsLimit && i.pidsLimit > 0) resources['pids'] = { limit: i.pidsLimit }
  const cpu: Record<string, number> = {}
  if (i.cpuShares) cpu['shares'] = i.cpuShares
  if (i.nanoCpus) {
    cpu['period'] = 100_000
    cpu['quota'] = Math.round((i.nanoCpus / 1e9) * 100_000)
  }
  if (Object.keys(cpu).length > 0) resources['cpu'] = cpu

  const namespaces: Array<{ type: string; path?: string }> = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ]
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
      oomScoreAdj: 0,
    },
    root: { path: i.rootfs, readonly: i.readonlyRootfs },
    hostname: i.hostname,
    mounts,
    linux: {
      cgroupsPath: i.cgroupsPath,
      resources,
      namespaces,
      maskedPaths: i.privileged ? [] : maskedPaths,
      readonlyPaths: i.privileged ? [] : readonlyPaths,
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
