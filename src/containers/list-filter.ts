import type { Filters } from '../lib/filters.ts'
import { matchLabels } from '../lib/filters.ts'
import type { ContainerRecord } from './record.ts'

/**
 * The `docker ps` filters as one predicate over container records. Without `all` (nor a `status` or `exited`
 * filter) only running containers pass. A `name` filter is a regular expression; one that does not compile
 * matches nothing, as Docker's.
 */
export function containerFilter(f: Filters, opts: { all: boolean; imageIdOf(ref: string): string | undefined }): (r: ContainerRecord) => boolean {
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
    return true
  }
}
