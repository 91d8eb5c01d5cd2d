import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'

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
    const stdin = io.stdin as typeof io.stdin & { isTTY?: boolean; setRawMode?(raw: boolean): void }
    const { Id } = await client.execs.create(container, {
      Cmd: cmd,
      Env: list(p, 'env'),
      ...(str(p, 'user') ? { User: str(p, 'user')! } : {}),
      ...(str(p, 'workdir') ? { WorkingDir: str(p, 'workdir')! } : {}),
      Privileged: bool(p, 'privileged'),
      Tty: tty,
      ...(tty && out.isTTY && out.rows && out.columns ? { ConsoleSize: [out.rows, out.columns] as [number, number] } : {}),
      AttachStdin: interactive,
      AttachStdout: !bool(p, 'detach'),
      AttachStderr: !bool(p, 'detach'),
    })
    if (bool(p, 'detach')) {
      await client.execs.startDetached(Id)
      return 0
    }
    const { output, socket } = await client.execs.start(Id, { tty })
    const raw = interactive && tty && stdin.isTTY === true && typeof stdin.setRawMode === 'function'
    if (raw) stdin.setRawMode!(true)
    if (interactive) {
      io.stdin.on('data', (d: Buffer) => socket.write(d))
      io.stdin.on('end', () => socket.end())
    }
    try {
      for await (const chunk of output) (chunk.stream === 'stderr' ? io.stderr : io.stdout).write(chunk.data)
    } finally {
      if (raw) stdin.setRawMode!(false)
      if (interactive) io.stdin.destroy()
    }
    return (await client.execs.inspect(Id)).ExitCode ?? 0
  },
}
