import { stringify } from 'yaml'
import type { EngineClient } from '../../../client/engine-client.ts'
import { buildService, createOneOff, down, projectContainers, up } from '../../../compose/converge.ts'
import { COMPOSE_VERSION, label } from '../../../compose/convert.ts'
import { ComposeError, loadProject } from '../../../compose/load.ts'
import { type Project, normalizeProject } from '../../../compose/model.ts'
import type { ContainerSummary } from '../../../wire/types.ts'
import type { Command } from '../../command.ts'
import { UsageError, bool, list, parseFlags, str } from '../../flags.ts'
import type { Io } from '../../io.ts'
import { formatRows } from '../../output/template.ts'

const GLOBAL_FLAGS = [
  { name: 'file', short: 'f', type: 'list' as const },
  { name: 'project-name', short: 'p', type: 'string' as const },
  { name: 'project-directory', type: 'string' as const },
  { name: 'env-file', type: 'list' as const },
  { name: 'profile', type: 'list' as const },
]

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
    const warnings: string[] = []
    try {
      const loaded = loadProject({
        files: list(p, 'file'),
        projectName: str(p, 'project-name'),
        projectDirectory: str(p, 'project-directory'),
        envFiles: list(p, 'env-file'),
        env: process.env,
        cwd: process.cwd(),
      })
      const project = normalizeProject(loaded, { profiles: [...list(p, 'profile'), ...(process.env['COMPOSE_PROFILES']?.split(',') ?? [])], warnings })
      for (const w of warnings) io.err(`WARN[0000] ${w}`)
      return await sub.run(client, project, parsed, io)
    } catch (err) {
      if (err instanceof ComposeError) {
        io.err(err.message)
        return 1
      }
      throw err
    }
  },
}

/** The project's containers, or those of the services named. */
async function selected(client: EngineClient, project: Project, services: string[]): Promise<ContainerSummary[]> {
  return (await projectContainers(client, project.name)).filter((c) => services.length === 0 || services.includes(c.Labels[label.service] ?? ''))
}

/** A verb that does one thing to each container of the services named (all without names). */
function lifecycle(doing: string, done: string, act: (client: EngineClient, id: string) => Promise<void>): Subcommand {
  return {
    flags: [],
    async run(client, project, p, io) {
      for (const c of await selected(client, project, p.args)) {
        const name = c.Names[0]?.slice(1) ?? c.Id
        io.err(` Container ${name}  ${doing}`)
        await act(client, c.Id)
        io.err(` Container ${name}  ${done}`)
      }
      return 0
    },
  }
}

/**
 * `up` without `-d`: the containers' output, prefixed, until they have all stopped; Ctrl-C stops them (a second
 * Ctrl-C kills them) and exits 130, as docker compose does.
 */
async function attached(client: EngineClient, project: Project, io: Io): Promise<number> {
  const containers = await selected(client, project, [])
  const width = Math.max(0, ...containers.map((c) => (c.Names[0]?.length ?? 1) - 1))
  let interrupted = 0
  const onSigint = (): void => {
    interrupted++
    io.err(interrupted === 1 ? 'Gracefully stopping... (press Ctrl+C again to force)' : 'Killing...')
    for (const c of containers) void (interrupted === 1 ? client.containers.stop(c.Id) : client.containers.kill(c.Id)).catch(() => {})
  }
  process.on('SIGINT', onSigint)
  try {
    await Promise.all(
      containers.map(async (c) => {
        const name = c.Names[0]?.slice(1) ?? c.Id
        const prefix = `${name.padEnd(width)}  | `
        const chunks = await client.containers.logs(c.Id, { follow: true, stdout: true, stderr: true, since: String(Math.floor(Date.now() / 1000) - 1) })
        let partial = ''
        for await (const chunk of chunks) {
          const lines = (partial + chunk.data.toString()).split('\n')
          partial = lines.pop()!
          for (const l of lines) io.out(`${prefix}${l}`)
        }
        if (partial !== '') io.out(`${prefix}${partial}`)
        const state = await client.containers.inspect(c.Id).catch(() => undefined)
        io.out(`${name} exited with code ${state?.State.ExitCode ?? 0}`)
      }),
    )
  } finally {
    process.off('SIGINT', onSigint)
  }
  return interrupted > 0 ? 130 : 0
}

interface Subcommand {
  flags: Array<{ name: string; short?: string; type: 'bool' | 'string' | 'list' }>
  /** false: flags only before the first argument (a command's own flags follow it). */
  interspersed?: boolean
  run(client: EngineClient, project: Project, p: ReturnType<typeof parseFlags>, io: Io): Promise<number>
}

const report = (io: Io) => (line: string): void => io.err(` ${line}`)

const subcommands: Record<string, Subcommand> = {
  up: {
    flags: [
      { name: 'detach', short: 'd', type: 'bool' },
      { name: 'build', type: 'bool' },
      { name: 'force-recreate', type: 'bool' },
      { name: 'no-recreate', type: 'bool' },
      { name: 'remove-orphans', type: 'bool' },
      { name: 'wait-timeout', type: 'string' },
    ],
    async run(client, project, p, io) {
      await up(
        client,
        project,
        {
          build: bool(p, 'build'),
          forceRecreate: bool(p, 'force-recreate'),
          noRecreate: bool(p, 'no-recreate'),
          removeOrphans: bool(p, 'remove-orphans'),
          waitTimeoutMs: Number(str(p, 'wait-timeout') ?? 120) * 1000,
        },
        report(io),
      )
      if (bool(p, 'detach')) return 0
      return attached(client, project, io)
    },
  },
  down: {
    flags: [
      { name: 'volumes', short: 'v', type: 'bool' },
      { name: 'remove-orphans', type: 'bool' },
      { name: 'timeout', short: 't', type: 'string' },
    ],
    async run(client, project, p, io) {
      const t = str(p, 'timeout')
      await down(client, project, { volumes: bool(p, 'volumes'), removeOrphans: bool(p, 'remove-orphans'), timeoutSec: t === undefined ? undefined : Number(t) }, report(io))
      return 0
    },
  },
  ps: {
    flags: [
      { name: 'all', short: 'a', type: 'bool' },
      { name: 'quiet', short: 'q', type: 'bool' },
      { name: 'format', type: 'string' },
    ],
    async run(client, project, p, io) {
      const containers = (await projectContainers(client, project.name)).filter((c) => bool(p, 'all') || c.State === 'running')
      if (bool(p, 'quiet')) {
        for (const c of containers) io.out(c.Id)
        return 0
      }
      const rows = containers.map((c) => ({
        Name: c.Names[0]?.slice(1) ?? '',
        Image: c.Image,
        Command: JSON.stringify(c.Command),
        Service: c.Labels[label.service] ?? '',
        Created: c.Created,
        Status: c.Status,
        State: c.State,
        Ports: c.Ports.map((x) => (x.PublicPort ? `${x.IP ?? '0.0.0.0'}:${x.PublicPort}->${x.PrivatePort}/${x.Type}` : `${x.PrivatePort}/${x.Type}`)).join(', '),
        Project: project.name,
        ID: c.Id,
      }))
      if (str(p, 'format') === 'json') {
        for (const r of rows) io.out(JSON.stringify(r))
        return 0
      }
      const format = str(p, 'format') ?? 'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.Status}}\t{{.Ports}}'
      for (const line of formatRows(format, rows, { Name: 'NAME', Image: 'IMAGE', Command: 'COMMAND', Service: 'SERVICE', Status: 'STATUS', Ports: 'PORTS', State: 'STATE', ID: 'ID', Project: 'PROJECT', Created: 'CREATED' })) io.out(line)
      return 0
    },
  },
  config: {
    flags: [
      { name: 'services', type: 'bool' },
      { name: 'quiet', short: 'q', type: 'bool' },
      { name: 'format', type: 'string' },
    ],
    async run(_client, project, p, io) {
      if (bool(p, 'quiet')) return 0
      if (bool(p, 'services')) {
        for (const s of project.services) io.out(s.name)
        return 0
      }
      const doc = {
        name: project.name,
        services: Object.fromEntries(project.services.map(({ name, ...rest }) => [name, rest])),
        networks: project.networks,
        ...(Object.keys(project.volumes).length > 0 ? { volumes: project.volumes } : {}),
      }
      io.out(str(p, 'format') === 'json' ? JSON.stringify(doc, null, 2) : stringify(doc).trimEnd())
      return 0
    },
  },
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
    async run(client, project, p, io) {
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
    ],
    interspersed: false,
    async run(client, project, p, io) {
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
          waitTimeoutMs: 120_000,
        },
        report(io),
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
  stop: lifecycle('Stopping', 'Stopped', (client, id) => client.containers.stop(id).then(() => {})),
  start: lifecycle('Starting', 'Started', (client, id) => client.containers.start(id)),
  restart: lifecycle('Restarting', 'Started', (client, id) => client.containers.restart(id)),
  kill: lifecycle('Killing', 'Killed', (client, id) => client.containers.kill(id)),
  pause: lifecycle('Pausing', 'Paused', (client, id) => client.containers.pause(id)),
  unpause: lifecycle('Unpausing', 'Unpaused', (client, id) => client.containers.unpause(id)),
  rm: {
    flags: [
      { name: 'force', short: 'f', type: 'bool' },
      { name: 'stop', short: 's', type: 'bool' },
      { name: 'volumes', short: 'v', type: 'bool' },
    ],
    async run(client, project, p, io) {
      const targets = (await selected(client, project, p.args)).filter((c) => bool(p, 'stop') || c.State !== 'running')
      if (targets.length === 0) {
        io.err('No stopped containers')
        return 0
      }
      for (const c of targets) {
        await client.containers.remove(c.Id, { force: true, v: bool(p, 'volumes') })
        io.err(` Container ${c.Names[0]?.slice(1) ?? c.Id}  Removed`)
      }
      return 0
    },
  },
  build: {
    flags: [],
    async run(client, project, p, io) {
      const wanted = p.args
      for (const s of project.services.filter((x) => x.build && (wanted.length === 0 || wanted.includes(x.name)))) {
        await buildService(client, s, s.image ?? `${project.name}-${s.name}`, report(io))
      }
      return 0
    },
  },
  logs: {
    flags: [
      { name: 'follow', short: 'f', type: 'bool' },
      { name: 'tail', short: 'n', type: 'string' },
      { name: 'no-log-prefix', type: 'bool' },
    ],
    async run(client, project, p, io) {
      const containers = (await projectContainers(client, project.name)).filter((c) => p.args.length === 0 || p.args.includes(c.Labels[label.service] ?? ''))
      const width = Math.max(0, ...containers.map((c) => `${c.Labels[label.service]}-${c.Labels[label.number]}`.length))
      await Promise.all(
        containers.map(async (c) => {
          const prefix = bool(p, 'no-log-prefix') ? '' : `${`${c.Labels[label.service]}-${c.Labels[label.number]}`.padEnd(width)}  | `
          const chunks = await client.containers.logs(c.Id, { follow: bool(p, 'follow'), stdout: true, stderr: true, tail: str(p, 'tail') })
          let partial = ''
          for await (const chunk of chunks) {
            const lines = (partial + chunk.data.toString()).split('\n')
            partial = lines.pop()!
            for (const l of lines) {
              if (chunk.stream === 'stderr') io.err(`${prefix}${l}`)
              else io.out(`${prefix}${l}`)
            }
          }
          if (partial !== '') io.out(`${prefix}${partial}`)
        }),
      )
      return 0
    },
  },
}
