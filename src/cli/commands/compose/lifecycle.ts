import type { EngineClient } from '../../../client/engine-client.ts'
import { down } from '../../../compose/down.ts'
import { ComposeError } from '../../../compose/errors.ts'
import { inServiceOrder } from '../../../compose/lifecycle.ts'
import { nameOf } from '../../../compose/project-containers.ts'
import { UsageError, bool, str } from '../../flags.ts'
import { type Subcommand, selected } from './subcommand.ts'

/**
 * A verb that does one thing to each container of the services named (all without names): in dependency order for
 * start, dependants first for the verbs that stop, the containers of one service in parallel.
 */
function lifecycle(doing: string, done: string, act: (client: EngineClient, id: string, p: { t?: number | undefined; signal?: string | undefined }) => Promise<void>, opts: { reverse?: boolean; running?: boolean } = {}): Subcommand {
  return {
    flags: [
      { name: 'timeout', short: 't', type: 'string' },
      { name: 'signal', short: 's', type: 'string' },
    ],
    async run(ctx, project, p) {
      const t = str(p, 'timeout')
      const containers = (await selected(ctx.client, project, p.args)).filter((c) => !opts.running || c.State === 'running')
      if (p.args.length > 0) for (const s of p.args) if (!project.services.some((x) => x.name === s)) throw new ComposeError(`no such service: ${s}`)
      const verb = { doing, done, reverse: opts.reverse ?? false, dryRun: ctx.dryRun }
      await inServiceOrder(project, containers, verb, (c) => act(ctx.client, c.Id, { t: t === undefined ? undefined : Number(t), signal: str(p, 'signal') }), ctx.report)
      return 0
    },
  }
}

export const lifecycleVerbs: Record<string, Subcommand> = {
  start: lifecycle('Starting', 'Started', (client, id) => client.containers.start(id)),
  stop: lifecycle('Stopping', 'Stopped', (client, id, o) => client.containers.stop(id, { t: o.t }).then(() => {}), { reverse: true }),
  restart: lifecycle('Restarting', 'Started', (client, id, o) => client.containers.restart(id, { t: o.t })),
  kill: lifecycle('Killing', 'Killed', (client, id, o) => client.containers.kill(id, o.signal), { reverse: true, running: true }),
  pause: lifecycle('Pausing', 'Paused', (client, id) => client.containers.pause(id), { running: true }),
  unpause: lifecycle('Unpausing', 'Unpaused', (client, id) => client.containers.unpause(id)),
  rm: {
    flags: [
      { name: 'force', short: 'f', type: 'bool' },
      { name: 'stop', short: 's', type: 'bool' },
      { name: 'volumes', short: 'v', type: 'bool' },
    ],
    async run(ctx, project, p) {
      const targets = (await selected(ctx.client, project, p.args)).filter((c) => bool(p, 'stop') || c.State !== 'running')
      if (targets.length === 0) {
        ctx.io.err('No stopped containers')
        return 0
      }
      for (const c of targets) {
        ctx.report(`Container ${nameOf(c)}  Removing`)
        if (ctx.dryRun) continue
        await ctx.client.containers.remove(c.Id, { force: true, v: bool(p, 'volumes') })
        ctx.report(`Container ${nameOf(c)}  Removed`)
      }
      return 0
    },
  },
  down: {
    flags: [
      { name: 'volumes', short: 'v', type: 'bool' },
      { name: 'remove-orphans', type: 'bool' },
      { name: 'timeout', short: 't', type: 'string' },
      { name: 'rmi', type: 'string' },
    ],
    async run(ctx, project, p) {
      const t = str(p, 'timeout')
      const rmi = str(p, 'rmi')
      if (rmi !== undefined && rmi !== 'local' && rmi !== 'all') throw new UsageError(`invalid --rmi option "${rmi}"`)
      if (ctx.dryRun) {
        for (const c of await selected(ctx.client, project, [])) ctx.report(`Container ${nameOf(c)}  Stopping`)
        return 0
      }
      await down(ctx.client, project, { volumes: bool(p, 'volumes'), removeOrphans: bool(p, 'remove-orphans'), timeoutSec: t === undefined ? undefined : Number(t), rmi }, ctx.report)
      return 0
    },
  },
  wait: {
    flags: [{ name: 'down-project', type: 'bool' }],
    async run(ctx, project, p) {
      if (p.args.length === 0) throw new UsageError('"cais compose wait" requires at least 1 argument')
      const containers = await selected(ctx.client, project, p.args)
      let code = 0
      await Promise.all(
        containers.map(async (c) => {
          const { result } = await ctx.client.containers.wait(c.Id)
          const r = await result
          ctx.io.out(String(r.StatusCode))
          if (code === 0) code = r.StatusCode
        }),
      )
      if (bool(p, 'down-project')) await down(ctx.client, project, { volumes: false, removeOrphans: false }, ctx.report)
      return code
    },
  },
}
