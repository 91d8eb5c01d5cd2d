import { buildService, imageOf, pullImage, pushImage } from '../../../compose/images.ts'
import { ComposeError } from '../../../compose/errors.ts'
import type { Project, ServiceConfig } from '../../../compose/model.ts'
import { bool } from '../../flags.ts'
import type { Subcommand } from './subcommand.ts'

function named(project: Project, names: readonly string[]): ServiceConfig[] {
  for (const n of names) if (!project.services.some((s) => s.name === n)) throw new ComposeError(`no such service: ${n}`)
  return project.services.filter((s) => names.length === 0 || names.includes(s.name))
}

export const imageVerbs: Record<string, Subcommand> = {
  build: {
    flags: [
      { name: 'no-cache', type: 'bool' },
      { name: 'pull', type: 'bool' },
      { name: 'quiet', short: 'q', type: 'bool' },
    ],
    async run({ client, report, dryRun }, project, p) {
      for (const s of named(project, p.args).filter((x) => x.build)) {
        if (dryRun) report(`Service ${s.name}  Building`)
        else await buildService(client, s, imageOf(project, s), report, { noCache: bool(p, 'no-cache'), pull: bool(p, 'pull') })
      }
      return 0
    },
  },
  pull: {
    flags: [
      { name: 'ignore-buildable', type: 'bool' },
      { name: 'ignore-pull-failures', type: 'bool' },
      { name: 'include-deps', type: 'bool' },
      { name: 'quiet', short: 'q', type: 'bool' },
    ],
    async run({ client, report, dryRun, io }, project, p) {
      const services = named(project, p.args).filter((s) => s.image && !(bool(p, 'ignore-buildable') && s.build) && s.pull_policy !== 'build' && s.pull_policy !== 'never')
      const failures: string[] = []
      await Promise.all(
        services.map(async (s) => {
          try {
            await pullImage(client, s.name, s.image!, report, dryRun)
          } catch (err) {
            if (!bool(p, 'ignore-pull-failures') || !(err instanceof ComposeError)) throw err
            failures.push(err.message)
          }
        }),
      )
      for (const f of failures) io.err(`WARN[0000] ${f}`)
      return 0
    },
  },
  push: {
    flags: [
      { name: 'ignore-push-failures', type: 'bool' },
      { name: 'quiet', short: 'q', type: 'bool' },
    ],
    async run({ client, report, dryRun }, project, p) {
      for (const s of named(project, p.args).filter((x) => x.image)) {
        if (dryRun) report(`Pushing ${s.name}: ${s.image}`)
        else {
          try {
            await pushImage(client, s.name, s.image!, report)
          } catch (err) {
            if (!bool(p, 'ignore-push-failures')) throw err
          }
        }
      }
      return 0
    },
  },
}
