import type { EngineClient } from '../client/engine-client.ts'
import type { ContainerInspect } from '../wire/types.ts'
import { label } from './convert.ts'
import { ComposeError } from './errors.ts'
import type { DependencyCondition } from './model.ts'
import { projectContainers } from './project-containers.ts'
import type { Report } from './report.ts'

const POLL_MS = 200

/** Waits for a dependency to reach its condition; a dependency that cannot gets named in the error. */
export async function waitForCondition(client: EngineClient, project: string, dep: string, condition: DependencyCondition, timeoutMs: number, report: Report): Promise<void> {
  if (condition === 'service_started') return
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const states = await serviceStates(client, project, dep)
    if (condition === 'service_healthy') {
      const unhealthy = states.find((st) => st.State.Health?.Status === 'unhealthy')
      if (unhealthy) throw new ComposeError(`dependency failed to start: container ${unhealthy.Name.slice(1)} is unhealthy`)
      const exited = states.find((st) => !st.State.Running && st.State.Status === 'exited')
      if (exited) throw new ComposeError(`dependency failed to start: container ${exited.Name.slice(1)} exited (${exited.State.ExitCode})`)
      if (states.length > 0 && states.every((st) => st.State.Health?.Status === 'healthy')) {
        report(`Container ${states[0]!.Name.slice(1)}  Healthy`)
        return
      }
    } else {
      const failed = states.find((st) => !st.State.Running && st.State.Status === 'exited' && st.State.ExitCode !== 0)
      if (failed) throw new ComposeError(`service "${dep}" didn't complete successfully: exit ${failed.State.ExitCode}`)
      if (states.length > 0 && states.every((st) => st.State.Status === 'exited')) {
        report(`Container ${states[0]!.Name.slice(1)}  Exited`)
        return
      }
    }
    if (Date.now() > deadline) throw new ComposeError(`timed out waiting for service "${dep}" to be ${condition.replace('service_', '').replace('_', ' ')}`)
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}

/**
 * `up --wait`: every service running (and healthy when it has a health check); a one-shot service that exited 0
 * counts as done, which docker compose does not allow (docker/compose#10596). Returns the failures, named.
 */
export async function waitForProject(client: EngineClient, project: string, services: string[], timeoutMs: number, report: Report): Promise<string[]> {
  const deadline = Date.now() + timeoutMs
  const pending = new Set(services)
  const failures: string[] = []
  while (pending.size > 0) {
    for (const service of [...pending]) {
      const states = await serviceStates(client, project, service)
      const name = (st: ContainerInspect): string => st.Name.slice(1)
      const bad = states.find((st) => st.State.Health?.Status === 'unhealthy' || (st.State.Status === 'exited' && st.State.ExitCode !== 0) || st.State.Status === 'dead')
      if (bad) {
        failures.push(bad.State.Health?.Status === 'unhealthy' ? `container ${name(bad)} is unhealthy` : `container ${name(bad)} exited (${bad.State.ExitCode})`)
        pending.delete(service)
        continue
      }
      const done = states.length > 0 && states.every((st) => (st.State.Running && (st.State.Health === undefined || st.State.Health.Status === 'healthy')) || (st.State.Status === 'exited' && st.State.ExitCode === 0))
      if (done) {
        for (const st of states) report(`Container ${name(st)}  ${st.State.Running ? 'Healthy' : 'Exited'}`)
        pending.delete(service)
      }
    }
    if (pending.size === 0) break
    if (Date.now() > deadline) {
      failures.push(...[...pending].map((s) => `timed out waiting for service "${s}"`))
      break
    }
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
  return failures
}

async function serviceStates(client: EngineClient, project: string, service: string): Promise<ContainerInspect[]> {
  const containers = (await projectContainers(client, project)).filter((c) => c.Labels[label.service] === service)
  return Promise.all(containers.map((c) => client.containers.inspect(c.Id)))
}
