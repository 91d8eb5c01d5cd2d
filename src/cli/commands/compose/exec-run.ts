import { createOneOff } from '../../../compose/converge.ts'
import { label } from '../../../compose/convert.ts'
import { ComposeError } from '../../../compose/errors.ts'
import { UsageError, bool, list, str } from '../../flags.ts'
import { type Subcommand, selected } from './subcommand.ts'

export const execRunVerbs: Record<string, Subcommand> = {
  exec: {
    flags: [
      { name: 'detach', short: 'd', type: 'bool' },
      { name: 'no-TTY', short: 'T', type: 'bool' },
      { name: 'env', short: 'e', type: 'list' },
      { name: 'user', short: 'u', type: 'string' },
      { name: 'workdir', short: 'w', type: 'string' },
      { name: 'index', type: 'string' },
      { name: 'privileged', type: 'bool' },
    ],
    interspersed: false,
    async run({ client, io }, project, p) {
      const [service, ...command] = p.args
      if (!service || command.length === 0) throw new UsageError('cais compose exec requires a service and a command')
      const index = str(p, 'index') ?? '1'
      const target = (await selected(client, project, [service])).find((c) => (c.Labels[label.number] ?? '1') === index && c.State === 'running')
      if (!target) throw new ComposeError(`service "${service}" is not running`)
      // docker compose exec: stdin attached, and a TTY when this terminal is one, unless -T.
      const tty = !bool(p, 'no-TTY') && (io.stdin as { isTTY?: boolean }).isTTY === true
      const flags = new Map<string, string | boolean | string[]>([
        ['interactive', !bool(p, 'detach')],
        ['tty', tty],
        ['detach', bool(p, 'detach')],
        ['privileged', bool(p, 'privileged')],
        ['env', list(p, 'env')],
      ])
      for (const k of ['user', 'workdir']) if (str(p, k) !== undefined) flags.set(k, str(p, k)!)
      const { execCommand } = await import('../container/exec.ts')
      return execCommand.run(client, { flags, args: [target.Id, ...command] }, io)
    },
  },
  run: {
    flags: [
      { name: 'rm', type: 'bool' },
      { name: 'detach', short: 'd', type: 'bool' },
      { name: 'no-TTY', short: 'T', type: 'bool' },
      { name: 'env', short: 'e', type: 'list' },
      { name: 'name', type: 'string' },
      { name: 'user', short: 'u', type: 'string' },
      { name: 'workdir', short: 'w', type: 'string' },
      { name: 'entrypoint', type: 'string' },
      { name: 'no-deps', type: 'bool' },
      { name: 'service-ports', short: 'P', type: 'bool' },
    ],
    interspersed: false,
    async run({ client, io, report }, project, p) {
      const [service, ...command] = p.args
      if (!service) throw new UsageError('cais compose run requires a service')
      const stdinTty = (io.stdin as { isTTY?: boolean }).isTTY === true
      const tty = !bool(p, 'no-TTY') && !bool(p, 'detach') && stdinTty
      const entrypoint = str(p, 'entrypoint')
      const { id, name } = await createOneOff(
        client,
        project,
        service,
        {
          command: command.length > 0 ? command : undefined,
          entrypoint: entrypoint === undefined ? undefined : entrypoint === '' ? [''] : [entrypoint],
          env: list(p, 'env'),
          name: str(p, 'name'),
          user: str(p, 'user'),
          workdir: str(p, 'workdir'),
          tty,
          interactive: !bool(p, 'detach') && (tty || !bool(p, 'no-TTY')),
          noDeps: bool(p, 'no-deps'),
          publish: bool(p, 'service-ports'),
          waitTimeoutMs: 120_000,
        },
        report,
      )
      if (bool(p, 'detach')) {
        await client.containers.start(id)
        io.out(name)
        return 0
      }
      // Attached as `docker start -ai`: the exit code is the container's.
      const { startCommand } = await import('../container/start.ts')
      try {
        const flags = new Map<string, string | boolean | string[]>([['attach', true], ['interactive', !bool(p, 'no-TTY')]])
        return await startCommand.run(client, { flags, args: [id] }, io)
      } finally {
        if (bool(p, 'rm')) await client.containers.remove(id, { force: true }).catch(() => {})
      }
    },
  },
  cp: {
    flags: [
      { name: 'index', type: 'string' },
      { name: 'archive', short: 'a', type: 'bool' },
      { name: 'follow-link', short: 'L', type: 'bool' },
    ],
    async run({ client, io }, project, p) {
      if (p.args.length !== 2) throw new UsageError('"cais compose cp" requires exactly 2 arguments: SERVICE:SRC_PATH DEST_PATH or SRC_PATH SERVICE:DEST_PATH')
      const index = str(p, 'index') ?? '1'
      // SERVICE:PATH becomes the service's container; a path with a slash before its colon is a local path.
      const args = await Promise.all(
        p.args.map(async (a) => {
          const colon = a.indexOf(':')
          if (colon <= 0 || a.slice(0, colon).includes('/')) return a
          const service = a.slice(0, colon)
          const c = (await selected(client, project, [service])).find((x) => (x.Labels[label.number] ?? '1') === index)
          if (!c) throw new ComposeError(`no container found for service "${service}"`)
          return `${c.Id}${a.slice(colon)}`
        }),
      )
      const { cpCommand } = await import('../container/cp.ts')
      const flags = new Map<string, string | boolean | string[]>([['archive', bool(p, 'archive')], ['follow-link', bool(p, 'follow-link')]])
      return cpCommand.run(client, { flags, args }, io)
    },
  },
}
