import { existsSync, readFileSync } from 'node:fs'

/** Problems with the host that stop containers from running, in words a user can act on. */
export function hostProblems(): string[] {
  const problems: string[] = []
  const unified = '/sys/fs/cgroup/unified/cgroup.controllers'
  if (existsSync(unified)) {
    const controllers = readFileSync(unified, 'utf8').trim()
    if (controllers) {
      problems.push(
        `cgroups in hybrid mode with controllers still on cgroup2 (${controllers}): crun refuses to run containers. ` +
          `Fix: mkdir -p /sys/fs/cgroup/${controllers.split(' ')[0]} && mount -t cgroup -o ${controllers.split(' ')[0]} cgroup /sys/fs/cgroup/${controllers.split(' ')[0]} (scripts/setup.sh does this)`,
      )
    }
  }
  const filesystems = readFileSync('/proc/filesystems', 'utf8')
  if (!filesystems.includes('overlay')) problems.push('the kernel has no overlay filesystem: modprobe overlay')
  return problems
}

export function cgroupVersion(): '1' | '2' {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1'
}

/** Docker's warning for each TCP listener without TLS: whoever reaches it is root here. */
export function listenerWarnings(hosts: readonly string[], tlsEnabled: boolean): string[] {
  if (tlsEnabled) return []
  return hosts
    .filter((h) => h.startsWith('tcp://'))
    .map((h) => `API is accessible on http://${h.slice('tcp://'.length)} without encryption. Access to the remote API is equivalent to root access on the host.`)
}
