import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'
import { connectStreams } from './attach-streams.ts'

export const execCommand: Command = {
  name: 'exec',
  group: 'container',
  usage: 'cais exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  description: 'Execute a command in a running container',
  flags: [
    { name: 'detach', short: 'd', type: 'bool' },
    { name: 'interactive', short: 'i', type: 'bool' },
    { name: 'tty', short: 't', type: 'bool' },
    { name: 'env', short: 'e', type: 'list' },
    { name: 'user', short: 'u', type: 'string' },
    { name: 'workdir', short: 'w', type: 'string' },
    { name: 'privileged', type: 'bool' },
  ],
  interspersed: false,
  minArgs: 2,
  async run(client, p, io) {
    const [container, ...cmd] = p.args as [string, ...string[]]
    const interactive = bool(p, 'interactive')
    const tty = bool(p, 'tty')
    const out = io.stdout as typeof io.stdout & { isTTY?: boolean; rows?: number; columns?: number }
    const consoleSize = tty && out.isTTY && out.rows && out.columns ? ([out.rows, out.columns] as [number, number]) : undefined
    const { Id } = await client.execs.create(container, {
      Cmd: cmd,
      Env: list(p, 'env'),
      ...(str(p, 'user') ? { User: str(p, 'user')! } : {}),
      ...(str(p, 'workdir') ? { WorkingDir: str(p, 'workdir')! } : {}),
      Privileged: bool(p, 'privileged'),
      Tty: tty,
      ...(consoleSize ? { ConsoleSize: consoleSize } : {}),
      AttachStdin: interactive,
      AttachStdout: !bool(p, 'detach'),
      AttachStderr: !bool(p, 'detach'),
    })
    if (bool(p, 'detach')) {
      await client.execs.startDetached(Id)
      return 0
    }
    const attached = await client.execs.start(Id, { tty, consoleSize })
    const streams = connectStreams((h, w) => client.execs.resize(Id, h, w), attached, io, { stdin: interactive, tty })
    // As the docker CLI: the size again once the exec runs, then each change of the local terminal's.
    await streams.started()
    await streams.done
    return (await client.execs.inspect(Id)).ExitCode ?? 0
  },
}
