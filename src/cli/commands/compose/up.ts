import { waitForProject } from '../../../compose/conditions.ts'
import { type UpOptions, defaultUpOptions, selectServices, up } from '../../../compose/converge.ts'
import { ComposeError } from '../../../compose/errors.ts'
import type { Project, PullPolicy } from '../../../compose/model.ts'
import { watchProject } from '../../../compose/watch.ts'
import { UsageError, bool, list, str, type ParsedArgs } from '../../flags.ts'
import { printLogs } from './log-printer.ts'
import { type ComposeContext, type Subcommand, selected } from './subcommand.ts'

const CONVERGE_FLAGS = [
  { name: 'build', type: 'bool' as const },
  { name: 'no-build', type: 'bool' as const },
  { name: 'pull', type: 'string' as const },
  { name: 'force-recreate', type: 'bool' as const },
  { name: 'no-recreate', type: 'bool' as const },
  { name: 'remove-orphans', type: 'bool' as const },
  { name: 'scale', type: 'list' as const },
  { name: 'timeout', short: 't', type: 'string' as const },
  { name: 'no-deps', type: 'bool' as const },
]

/** The options `up` and `create` share, from their flags and the environment. */
function upOptions(ctx: ComposeContext, p: ParsedArgs, overrides: Partial<UpOptions>): UpOptions {
  if (bool(p, 'build') && bool(p, 'no-build')) throw new UsageError('--build and --no-build are incompatible')
  if (bool(p, 'force-recreate') && bool(p, 'no-recreate')) throw new UsageError('--force-recreate and --no-recreate are incompatible')
  const pull = str(p, 'pull')
  if (pull !== undefined && !['always', 'missing', 'never', 'build'].includes(pull)) throw new UsageError(`invalid --pull option "${pull}"`)
  const scale: Record<string, number> = {}
  for (const s of list(p, 'scale')) {
    const m = /^([^=]+)=(\d+)$/.exec(s)
    if (!m) throw new UsageError(`invalid --scale option "${s}": expected SERVICE=NUM`)
    scale[m[1]!] = Number(m[2])
  }
  const t = str(p, 'timeout')
  const parallel = Number(process.env['COMPOSE_PARALLEL_LIMIT'] ?? '0')
  return {
    ...defaultUpOptions,
    build: bool(p, 'build'),
    noBuild: bool(p, 'no-build'),
    pull: pull as PullPolicy | undefined,
    forceRecreate: bool(p, 'force-recreate'),
    noRecreate: bool(p, 'no-recreate'),
    removeOrphans: bool(p, 'remove-orphans') || process.env['COMPOSE_REMOVE_ORPHANS'] === 'true',
    scale,
    timeoutSec: t === undefined ? undefined : Number(t),
    dryRun: ctx.dryRun,
    parallel: parallel > 0 ? parallel : defaultUpOptions.parallel,
    ...overrides,
  }
}

function target(project: Project, p: ParsedArgs): Project {
  const chosen = selectServices(project, p.args, bool(p, 'no-deps'))
  const scale = list(p, 'scale').map((s) => s.split('=')[0]!)
  for (const s of scale) if (!chosen.services.some((x) => x.name === s)) throw new ComposeError(`no such service: ${s}`)
  return chosen
}

export const upVerb: Subcommand = {
  flags: [
    ...CONVERGE_FLAGS,
    { name: 'detach', short: 'd', type: 'bool' },
    { name: 'wait', type: 'bool' },
    { name: 'wait-timeout', type: 'string' },
    { name: 'no-start', type: 'bool' },
    { name: 'abort-on-container-exit', type: 'bool' },
    { name: 'exit-code-from', type: 'string' },
    { name: 'no-log-prefix', type: 'bool' },
    { name: 'no-color', type: 'bool' },
    { name: 'timestamps', type: 'bool' },
    { name: 'quiet-pull', type: 'bool' },
  ],
  async run(ctx, project, p) {
    const exitCodeFrom = str(p, 'exit-code-from')
    const abort = bool(p, 'abort-on-container-exit') || exitCodeFrom !== undefined
    const detach = bool(p, 'detach') || bool(p, 'wait')
    if (detach && abort) throw new UsageError(`${exitCodeFrom !== undefined ? '--exit-code-from' : '--abort-on-container-exit'} and --detach are incompatible`)
    if (exitCodeFrom !== undefined && !project.services.some((s) => s.name === exitCodeFrom)) throw new ComposeError(`no such service: ${exitCodeFrom}`)
    const waitTimeout = str(p, 'wait-timeout')
    const chosen = target(project, p)
    const opts = upOptions(ctx, p, { noStart: bool(p, 'no-start'), ...(waitTimeout ? { waitTimeoutMs: Number(waitTimeout) * 1000 } : {}) })
    await up(ctx.client, chosen, opts, ctx.report)
    if (ctx.dryRun || opts.noStart) return 0
    if (bool(p, 'wait')) {
      const failures = await waitForProject(ctx.client, project.name, chosen.services.map((s) => s.name), opts.waitTimeoutMs, ctx.report)
      for (const f of failures) ctx.io.err(f)
      return failures.length > 0 ? 1 : 0
    }
    if (detach) return 0
    return attached(ctx, project, chosen.services.map((s) => s.name), { abort, exitCodeFrom, prefix: !bool(p, 'no-log-prefix'), colour: !bool(p, 'no-color'), timestamps: bool(p, 'timestamps') })
  },
}

export const createVerb: Subcommand = {
  flags: CONVERGE_FLAGS,
  async run(ctx, project, p) {
    await up(ctx.client, target(project, p), upOptions(ctx, p, { noStart: true }), ctx.report)
    return 0
  },
}

/**
 * `up` without `-d`: the containers' output, prefixed, until they have all stopped. Ctrl-C stops them (a second
 * Ctrl-C kills them) and exits 130; with `--abort-on-container-exit` the first container to stop stops the rest,
 * and `--exit-code-from` makes that service's exit code ours, as docker compose does.
 */
async function attached(
  ctx: ComposeContext,
  project: Project,
  services: string[],
  opts: { abort: boolean; exitCodeFrom: string | undefined; prefix: boolean; colour: boolean; timestamps: boolean },
): Promise<number> {
  const { client, io } = ctx
  let interrupted = 0
  let exitCode = 0
  let stopping = false
  const stopAll = async (kill: boolean): Promise<void> => {
    for (const c of await selected(client, project, services, { all: false })) void (kill ? client.containers.kill(c.Id) : client.containers.stop(c.Id)).catch(() => {})
  }
  const onSigint = (): void => {
    interrupted++
    io.err(interrupted === 1 ? 'Gracefully stopping... (press Ctrl+C again to force)' : 'Killing...')
    void stopAll(interrupted > 1)
  }
  process.on('SIGINT', onSigint)
  try {
    await printLogs(client, project.name, io, {
      services,
      follow: true,
      since: String(Math.floor(Date.now() / 1000) - 1),
      timestamps: opts.timestamps,
      prefix: opts.prefix,
      colour: opts.colour && (io.stdout as { isTTY?: boolean }).isTTY === true && process.env['NO_COLOR'] === undefined,
      prefixBy: 'container',
      onExit(name, service, code) {
        io.out(`${name} exited with code ${code}`)
        if (opts.exitCodeFrom === service || (opts.abort && opts.exitCodeFrom === undefined && !stopping)) exitCode = code
        if (opts.abort && !stopping) {
          stopping = true
          io.err('Aborting on container exit...')
          void stopAll(false)
        }
      },
    })
  } finally {
    process.off('SIGINT', onSigint)
  }
  return interrupted > 0 ? 130 : exitCode
}

/** `watch`: brings the services up (unless `--no-up`), then acts on `develop.watch` rules until Ctrl-C. */
export const watchVerb: Subcommand = {
  flags: [
    { name: 'no-up', type: 'bool' },
    { name: 'quiet', type: 'bool' },
  ],
  async run(ctx, project, p) {
    const chosen = selectServices(project, p.args, true)
    if (!bool(p, 'no-up')) await up(ctx.client, selectServices(project, p.args, false), upOptions(ctx, p, {}), ctx.report)
    const stop = new AbortController()
    const onSigint = (): void => stop.abort()
    process.on('SIGINT', onSigint)
    process.on('SIGTERM', onSigint)
    try {
      await watchProject(ctx.client, project, chosen.services, ctx.report, stop.signal)
    } finally {
      process.off('SIGINT', onSigint)
      process.off('SIGTERM', onSigint)
    }
    return 0
  },
}
