import type { EngineClient } from '../client/engine-client.ts'
import type { ContainerSummary } from '../wire/types.ts'
import { label } from './convert.ts'

/** The project's containers, one-off ones left out unless asked for. */
export async function projectContainers(client: EngineClient, project: string, opts: { all?: boolean; oneoff?: boolean } = {}): Promise<ContainerSummary[]> {
  const filters = { label: [`${label.project}=${project}`, ...(opts.oneoff ? [] : [`${label.oneoff}=False`])] }
  return client.containers.list({ all: opts.all ?? true, filters })
}

/** The container's number within its service (`com.docker.compose.container-number`). */
export const numberOf = (c: ContainerSummary): number => Number(c.Labels[label.number] ?? '1')

export const nameOf = (c: ContainerSummary): string => c.Names[0]?.slice(1) ?? c.Id.slice(0, 12)
