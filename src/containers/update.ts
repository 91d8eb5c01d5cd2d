import { availableParallelism } from 'node:os'
import { CaisError, invalid } from '../lib/errors.ts'
import type { Runtime } from '../runtime/runtime.ts'
import { containerCgroup, liftPidsLimit } from '../runtime/cgroups.ts'
import { linuxResources } from '../runtime/spec.ts'
import { validateResources } from './create-config.ts'
import type { ContainerRecord } from './record.ts'
import { resourcesOf } from './run-spec.ts'

/**
 * `docker update` of one container, under its lock: new resource limits (applied at once to a running container
 * through crun) and restart policy, checked as at create and kept in its HostConfig.
 */
export async function updateContainer(
  rec: ContainerRecord,
  body: Record<string, unknown>,
  deps: { runtime: Runtime; bundle: string; save(rec: ContainerRecord): Promise<void> },
): Promise<void> {
  const resourceKeys = ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems', 'PidsLimit', 'OomKillDisable']
  const next: Record<string, unknown> = { ...rec.hostConfig }
  for (const k of resourceKeys) if (body[k] !== undefined && body[k] !== null) next[k] = body[k]
  // 0 and any negative number lift the PIDs limit, as Docker's update takes them.
  const unlimitPids = typeof body['PidsLimit'] === 'number' && body['PidsLimit'] <= 0
  if (unlimitPids) next['PidsLimit'] = 0
  // A new memory limit alone keeps the swap in proportion, as Docker's update does.
  if (body['Memory'] !== undefined && body['MemorySwap'] === undefined && (rec.hostConfig['MemorySwap'] as number | undefined)) next['MemorySwap'] = 0
  validateResources(next, availableParallelism())
  const policy = body['RestartPolicy'] as ContainerRecord['hostConfig']['RestartPolicy'] | undefined
  if (policy?.Name) {
    if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(policy.Name)) throw invalid(`invalid restart policy '${policy.Name}'`)
    if (rec.hostConfig.AutoRemove && policy.Name !== 'no') throw invalid('Restart policy cannot be updated because AutoRemove is enabled for the container')
    next['RestartPolicy'] = { Name: policy.Name, MaximumRetryCount: policy.MaximumRetryCount ?? 0 }
  }
  if (rec.state.Running && resourceKeys.some((k) => body[k] !== undefined)) {
    // The OOM killer setting is not changed on a running container.
    await deps.runtime.update(rec.id, deps.bundle, linuxResources({ ...resourcesOf(next), oomKillDisable: false })).catch((err: unknown) => {
      throw new CaisError('invalid', `Cannot update container ${rec.id}: ${(err as Error).message}`, { cause: err })
    })
    // The runtime keeps a limit it is not told about.
    if (unlimitPids) await liftPidsLimit(containerCgroup(rec.id))
  }
  rec.hostConfig = next as ContainerRecord['hostConfig']
  await deps.save(rec)
}
