// Host clean-up after a daemon of a test or bench run: what it may have left in the kernel, found by its names.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

const quiet = (cmd: string, args: string[]): void => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' })
  } catch {
    // already gone
  }
}

/**
 * Removes the namespaces, bridges and iptables chains a test daemon made; `bridge`, its default bridge, also when
 * the store that names it is gone.
 */
export function cleanupNetwork(root: string, prefix: string, bridge?: string): void {
  if (bridge) quiet('ip', ['link', 'del', 'dev', bridge])
  const containers = join(root, 'containers')
  if (existsSync(containers)) for (const id of readdirSync(containers)) quiet('ip', ['netns', 'delete', `cais-${id.slice(0, 12)}`])
  // Network records, and those `system check --repair` set aside (their bridges are still up).
  for (const networks of [join(root, 'networks'), join(root, 'broken/networks')]) {
    if (!existsSync(networks)) continue
    for (const f of readdirSync(networks).filter((x) => x.includes('.json'))) {
      let rec: { bridge?: string; endpoints?: Record<string, { hostIf: string }> }
      try {
        rec = JSON.parse(readFileSync(join(networks, f), 'utf8')) as typeof rec
      } catch {
        // a record a test broke on purpose
        continue
      }
      for (const e of Object.values(rec.endpoints ?? {})) quiet('ip', ['link', 'del', 'dev', e.hostIf])
      if (rec.bridge) quiet('ip', ['link', 'del', 'dev', rec.bridge])
    }
  }
  removeChains(prefix)
}

/** Removes the iptables and ip6tables chains named `<prefix>-…`: the jumps into them from other chains first. */
export function removeChains(prefix: string): void {
  for (const [tool, table] of [['iptables', 'nat'], ['iptables', 'filter'], ['ip6tables', 'nat'], ['ip6tables', 'filter']] as const) {
    let rules: string[]
    try {
      rules = execFileSync(tool, ['-w', '-t', table, '-S'], { encoding: 'utf8' }).split('\n')
    } catch {
      continue // no such table on this host
    }
    for (const r of rules) {
      if (!r.startsWith('-A ') || !r.includes(`-j ${prefix}-`)) continue
      const [, chain, ...rest] = r.split(' ')
      if (chain!.startsWith(`${prefix}-`)) continue
      quiet(tool, ['-w', '-t', table, '-D', chain!, ...rest])
    }
    for (const r of rules) {
      const m = new RegExp(`^-N (${prefix}-\\S+)$`).exec(r)
      if (!m) continue
      quiet(tool, ['-w', '-t', table, '-F', m[1]!])
    }
    for (const r of rules) {
      const m = new RegExp(`^-N (${prefix}-\\S+)$`).exec(r)
      if (m) quiet(tool, ['-w', '-t', table, '-X', m[1]!])
    }
  }
}

/** Detaches every mount under `dir`, the deepest first. */
export function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && m.startsWith(dir))
  for (const m of mounts.reverse()) quiet('umount', ['-l', m])
}
