import { invalid } from '../lib/errors.ts'

/** An OCI `linux.seccomp` section. */
export interface OciSeccomp {
  defaultAction: string
  defaultErrnoRet?: number
  architectures: string[]
  syscalls: Array<{ names: string[]; action: string; errnoRet?: number; args?: Array<{ index: number; value: number; valueTwo?: number; op: string }> }>
}

/**
 * The system calls Docker's default profile keeps from containers, with the capability that gives each back
 * (Docker's profile allows them only to a container that has it). Everything else is allowed: the profile here
 * is a deny list of the same calls rather than Docker's allow list, which has the same effect for them.
 */
const blocked: Record<string, string[]> = {
  '': ['add_key', 'get_kernel_syms', 'keyctl', 'kexec_file_load', 'kexec_load', 'nfsservctl', 'query_module', 'request_key', 'uselib', 'userfaultfd', 'ustat', 'vm86', 'vm86old', 'create_module', 'lookup_dcookie', 'sysfs', '_sysctl', 'kcmp'],
  CAP_SYS_ADMIN: ['bpf', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'mount', 'mount_setattr', 'move_mount', 'name_to_handle_at', 'open_tree', 'perf_event_open', 'pivot_root', 'quotactl', 'quotactl_fd', 'setdomainname', 'sethostname', 'setns', 'swapoff', 'swapon', 'umount', 'umount2', 'unshare', 'lookup_dcookie'],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['process_vm_readv', 'process_vm_writev', 'kcmp'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'adjtimex', 'clock_adjtime', 'clock_adjtime64'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node', 'move_pages'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_SYSLOG: ['syslog'],
}

function architectures(): string[] {
  return process.arch === 'arm64' ? ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'] : ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']
}

/** The default profile for a container with these capabilities (EPERM for each blocked call). */
export function defaultSeccomp(capabilities: readonly string[]): OciSeccomp {
  const names = new Set<string>()
  for (const [cap, calls] of Object.entries(blocked)) {
    if (cap !== '' && capabilities.includes(cap)) continue
    for (const c of calls) names.add(c)
  }
  // A call that a held capability gives back stays allowed even when another group lists it too.
  for (const [cap, calls] of Object.entries(blocked)) if (cap !== '' && capabilities.includes(cap)) for (const c of calls) names.delete(c)
  const syscalls: OciSeccomp['syscalls'] = [{ names: [...names].sort(), action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]
  // clone3 answers ENOSYS, not EPERM: glibc then falls back to clone, as with Docker's profile.
  if (!capabilities.includes('CAP_SYS_ADMIN')) syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 })
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: architectures(), syscalls }
}

interface DockerProfile {
  defaultAction?: string
  defaultErrnoRet?: number
  architectures?: string[]
  archMap?: Array<{ architecture: string; subArchitectures?: string[] }>
  syscalls?: Array<{ name?: string; names?: string[]; action?: string; errnoRet?: number; args?: Array<{ index: number; value: number; valueTwo?: number; op: string }> | null }>
}

/** A profile in Docker's JSON format (`--security-opt seccomp=profile.json`), as OCI's. */
export function seccompFromProfile(text: string): OciSeccomp {
  let p: DockerProfile
  try {
    p = JSON.parse(text) as DockerProfile
  } catch (err) {
    throw invalid(`Decoding seccomp profile failed: ${(err as Error).message}`, err)
  }
  if (!p.defaultAction) throw invalid('Decoding seccomp profile failed: defaultAction is required')
  const arches = p.architectures ?? p.archMap?.flatMap((a) => [a.architecture, ...(a.subArchitectures ?? [])]) ?? architectures()
  return {
    defaultAction: p.defaultAction,
    ...(p.defaultErrnoRet !== undefined ? { defaultErrnoRet: p.defaultErrnoRet } : {}),
    architectures: arches,
    syscalls: (p.syscalls ?? []).map((s) => ({
      names: s.names ?? (s.name ? [s.name] : []),
      action: s.action ?? 'SCMP_ACT_ALLOW',
      ...(s.errnoRet !== undefined ? { errnoRet: s.errnoRet } : {}),
      ...(s.args?.length ? { args: s.args } : {}),
    })),
  }
}
