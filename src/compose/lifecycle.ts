import type { EngineClient } from '../client/engine-client.ts'
import type { ContainerSummary } from '../wire/types.ts'
import { label } from './convert.ts'
import { type Project, dependencyOrder } from './model.ts'
import { nameOf, projectContainers } from './project-containers.ts'

export interface ServiceOrderVerb {
  /** What each container's lines say before and after: `Restarting`, `Started`. */
  doing: string
  done: string
  /** Dependants first, for the verbs that stop. */
  reverse?: boolean
  /** Report, do nothing. */
  dryRun?: boolean
}

/**
 * Does one thing to each of a project's `containers`, service by service in dependency order, the containers of
 * one service in parallel, with compose's line before and after each.
 */
export async function inServiceOrder(project: Project, containers: readonly ContainerSummary[], verb: ServiceOrderVerb, act: (c: ContainerSummary) => Promise<unknown>, report: (line: string) => void): Promise<void> {
  const order = dependencyOrder(project.services).map((s) => s.name)
  if (verb.reverse) order.reverse()
  for (const service of order) {
    await Promise.all(
      containers.filter((c) => c.Labels[label.service] === service).map(async (c) => {
        report(`Container ${nameOf(c)}  ${verb.doing}`)
        if (verb.dryRun) return
        await act(c)
        report(`Container ${nameOf(c)}  ${verb.done}`)
      }),
    )
  }
}

/** `compose restart`: every container of the project's services, stopped ones too. */
export async function restart(client: EngineClient, project: Project, opts: { t?: number | undefined }, report: (line: string) => void): Promise<void> {
  const containers = await projectContainers(client, project.name, { all: true })
  await inServiceOrder(project, containers, { doing: 'Restarting', done: 'Started' }, (c) => client.containers.restart(c.Id, { t: opts.t }), report)
}
