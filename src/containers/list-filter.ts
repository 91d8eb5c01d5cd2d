import type { Filters } from '../lib/filters.ts'
import { matchLabels } from '../lib/filters.ts'
import { invalid } from '../lib/errors.ts'
import type { ContainerRecord } from './record.ts'

/** What the filters need besides a record: images and containers by reference, a container's ports as ps lists them. */
export interface FilterLookups {
  imageIdOf(ref: string): string | undefined
  /** The record a `before`/`since` value names; throws Docker's not-found error when there is none. */
  containerOf(ref: string): ContainerRecord
  portsOf(r: ContainerRecord): Array<{ PrivatePort: number; PublicPort?: number | undefined; Type: string }>
}

/** `8080`, `8080/udp` or `8000-8010/tcp` as the set of `port/proto` keys they name. */
function portSet(values: readonly string[] | undefined, key: string): Set<string> | undefined {
  if (!values) return undefined
  const set = new Set<string>()
  for (const v of values) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(v)
    const start = Number(m?.[1])
    const end = m?.[2] === undefined ? start : Number(m[2])
    if (!m || start < 1 || end > 65535 || end < start) throw invalid(`invalid filter '${key}=${v}'`)
    for (let p = start; p <= end; p++) set.add(`${p}/${m[3] ?? 'tcp'}`)
  }
  return set
}

/**
 * The `docker ps` filters as one predicate over container records. Without `all` (nor a `status` or `exited`
 * filter) only running containers pass. A `name` filter is a regular expression; one that does not compile
 * matches nothing, as Docker's.
 */
export function containerFilter(f: Filters, opts: { all: boolean } & FilterLookups): (r: ContainerRecord) => boolean {
  const statusFilter = f.get('status')
  const all = opts.all || (statusFilter?.length ?? 0) > 0 || f.has('exited')
  const names = f.get('name')?.flatMap((n) => {
    try {
      return [new RegExp(n.replace(/^\//, ''))]
    } catch {
      return []
    }
  })
  const ids = f.get('id')
  const labels = f.get('label')
  const exited = f.get('exited')
  const volumes = f.get('volume')
  // Each `ancestor` resolved once, not once per container.
  const ancestors = f.get('ancestor')?.map((ref) => opts.imageIdOf(ref))
  const health = f.get('health')
  const networks = f.get('network')
  const published = portSet(f.get('publish'), 'publish')
  const exposed = portSet(f.get('expose'), 'expose')
  // Created strictly before / after the named containers (the newest of several `before`, the oldest `since`).
  const createdOf = (ref: string): number => Date.parse(opts.containerOf(ref).created)
  const before = f.get('before')?.map(createdOf)
  const since = f.get('since')?.map(createdOf)
  // Every container here runs with Linux's one isolation, named `default`.
  const isolation = f.get('isolation')
  const isTask = f.get('is-task')
  for (const v of isTask ?? []) if (v !== 'true' && v !== 'false') throw invalid(`invalid filter 'is-task=${v}'`)
  return (r) => {
    if (!all && !r.state.Running) return false
    if (statusFilter && !statusFilter.includes(r.state.Status)) return false
    if (ids && !ids.some((i) => r.id.startsWith(i))) return false
    if (names && !names.some((n) => n.test(r.name.slice(1)))) return false
    if (!matchLabels(labels, r.config.Labels)) return false
    if (exited && !(r.state.Status === 'exited' && exited.includes(String(r.state.ExitCode)))) return false
    if (volumes && !volumes.some((v) => (r.mounts ?? []).some((m) => m.source === v || m.destination === v))) return false
    if (ancestors && !ancestors.includes(r.imageId)) return false
    if (health && !health.includes(r.state.Health?.Status ?? 'none')) return false
    if (networks && !networks.some((n) => Object.keys(r.networks ?? { [r.hostConfig.NetworkMode]: {} }).includes(n))) return false
    if (before && !before.every((t) => Date.parse(r.created) < t)) return false
    if (since && !since.every((t) => Date.parse(r.created) > t)) return false
    // No container here is a swarm task.
    if (isTask && !isTask.includes('false')) return false
    if (isolation && !isolation.some((i) => i === 'default' || i === '')) return false
    if (published || exposed) {
      const ports = opts.portsOf(r)
      const hit = ports.some(
        (p) => (published !== undefined && p.PublicPort !== undefined && p.PublicPort > 0 && published.has(`${p.PublicPort}/${p.Type}`)) || (exposed?.has(`${p.PrivatePort}/${p.Type}`) ?? false),
      )
      if (!hit) return false
    }
    return true
  }
}
