import { COMPOSE_VERSION } from '../../../compose/convert.ts'
import { ComposeError, loadProject } from '../../../compose/load.ts'
import { type Project, normalizeProject } from '../../../compose/model.ts'
import type { Command } from '../../command.ts'
import { UsageError, bool, list, parseFlags, str } from '../../flags.ts'
import { execRunVerbs } from './exec-run.ts'
import { imageVerbs } from './image-verbs.ts'
import { infoVerbs } from './info.ts'
import { lifecycleVerbs } from './lifecycle.ts'
import { printLogs } from './log-printer.ts'
import type { Subcommand } from './subcommand.ts'
import { createVerb, upVerb, watchVerb } from './up.ts'

const GLOBAL_FLAGS = [
  { name: 'file', short: 'f', type: 'list' as const },
  { name: 'project-name', short: 'p', type: 'string' as const },
  { name: 'project-directory', type: 'string' as const },
  { name: 'env-file', type: 'list' as const },
  { name: 'profile', type: 'list' as const },
  { name: 'dry-run', type: 'bool' as const },
  { name: 'parallel', type: 'string' as const },
  { name: 'progress', type: 'string' as const },
  { name: 'ansi', type: 'string' as const },
]

const logsVerb: Subcommand = {
  flags: [
    { name: 'follow', short: 'f', type: 'bool' },
    { name: 'tail', short: 'n', type: 'string' },
    { name: 'since', type: 'string' },
    { name: 'until', type: 'string' },
    { name: 'timestamps', short: 't', type: 'bool' },
    { name: 'no-log-prefix', type: 'bool' },
    { name: 'no-color', type: 'bool' },
  ],
  async run({ client, io }, project, p) {
    for (const s of p.args) if (![...project.services, ...project.disabled].some((x) => x.name === s)) throw new ComposeError(`no such service: ${s}`)
    await printLogs(client, project.name, io, {
      services: p.args,
      follow: bool(p, 'follow'),
      tail: str(p, 'tail'),
      since: str(p, 'since'),
      until: str(p, 'until'),
      timestamps: bool(p, 'timestamps'),
      prefix: !bool(p, 'no-log-prefix'),
      colour: !bool(p, 'no-color') && (io.stdout as { isTTY?: boolean }).isTTY === true && process.env['NO_COLOR'] === undefined,
      prefixBy: 'service',
    })
    return 0
  },
}

const subcommands: Record<string, Subcommand> = {
  up: upVerb,
  create: createVerb,
  watch: watchVerb,
  logs: logsVerb,
  ...lifecycleVerbs,
  ...infoVerbs,
  ...execRunVerbs,
  ...imageVerbs,
}

/**
 * `cais compose`: the Compose Specification through the typed client, so it drives caisd or dockerd alike. As a
 * docker CLI plugin (`~/.docker/cli-plugins/docker-compose`) it answers `docker-cli-plugin-metadata` too.
 */
export const composeCommand: Command = {
  name: 'compose',
  group: 'none',
  usage: 'cais compose [OPTIONS] COMMAND',
  description: 'Define and run multi-container applications',
  flags: GLOBAL_FLAGS,
  interspersed: false,
  minArgs: 1,
  async run(client, p, io) {
    const [verb, ...rest] = p.args as [string, ...string[]]
    if (verb === 'docker-cli-plugin-metadata') {
      io.out(JSON.stringify({ SchemaVersion: '0.1.0', Vendor: 'cais', Version: COMPOSE_VERSION, ShortDescription: 'Docker Compose, by cais' }))
      return 0
    }
    const sub = subcommands[verb]
    if (!sub) throw new UsageError(`unknown compose command: ${verb}`)
    const parsed = parseFlags(rest, sub.flags, { interspersed: sub.interspersed ?? true })
    const dryRun = bool(p, 'dry-run') || process.env['COMPOSE_DRY_RUN'] === 'true'
    const parallel = str(p, 'parallel')
    if (parallel !== undefined) {
      if (!/^-?\d+$/.test(parallel)) throw new UsageError(`invalid argument "${parallel}" for "--parallel" flag`)
      if (Number(parallel) > 0) process.env['COMPOSE_PARALLEL_LIMIT'] = parallel
    }
    const ctx = { client, io, dryRun, report: (line: string): void => io.err(dryRun ? ` DRY-RUN MODE -  ${line}` : ` ${line}`) }
    try {
      const project = sub.withoutProject ? emptyProject : loadAndNormalize(p, (w) => io.err(`WARN[0000] ${w}`))
      return await sub.run(ctx, project, parsed)
    } catch (err) {
      if (err instanceof ComposeError) {
        io.err(err.message)
        return 1
      }
      throw err
    }
  },
}

function loadAndNormalize(p: ReturnType<typeof parseFlags>, warn: (w: string) => void): Project {
  const loaded = loadProject({
    files: list(p, 'file'),
    projectName: str(p, 'project-name'),
    projectDirectory: str(p, 'project-directory'),
    envFiles: list(p, 'env-file'),
    env: process.env,
    cwd: process.cwd(),
  })
  const warnings: string[] = []
  const profiles = [...list(p, 'profile'), ...(process.env['COMPOSE_PROFILES']?.split(',').filter(Boolean) ?? [])]
  const project = normalizeProject(loaded, { profiles, warnings })
  for (const w of warnings) warn(w)
  return project
}

const emptyProject: Project = {
  name: '', workingDir: '', files: [], envFiles: [], services: [], disabled: [], networks: {}, volumes: {}, secrets: {}, configs: {}, environment: new Map(), document: {},
}
