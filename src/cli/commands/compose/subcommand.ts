import type { EngineClient } from '../../../client/engine-client.ts'
import { label } from '../../../compose/convert.ts'
import type { Project } from '../../../compose/model.ts'
import { projectContainers } from '../../../compose/project-containers.ts'
import type { Report } from '../../../compose/report.ts'
import type { ContainerSummary } from '../../../wire/types.ts'
import type { FlagSpec, ParsedArgs } from '../../flags.ts'
import type { Io } from '../../io.ts'

/** What every compose verb gets besides its own flags. */
export interface ComposeContext {
  client: EngineClient
  io: Io
  /** `--dry-run`: mutating steps are reported, not done. */
  dryRun: boolean
  report: Report
}

export interface Subcommand {
  flags: FlagSpec[]
  /** false: flags only before the first argument (a command's own flags follow it). */
  interspersed?: boolean
  /** Verbs that work without a compose file (`ls`, `version`). */
  withoutProject?: boolean
  run(ctx: ComposeContext, project: Project, p: ParsedArgs): Promise<number>
}

/** The project's containers, or those of the services named; one-off ones left out. */
export async function selected(client: EngineClient, project: Project, services: readonly string[], opts: { all?: boolean } = {}): Promise<ContainerSummary[]> {
  return (await projectContainers(client, project.name, { all: opts.all ?? true })).filter((c) => services.length === 0 || services.includes(c.Labels[label.service] ?? ''))
}
