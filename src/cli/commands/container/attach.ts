import type { Command } from '../../command.ts'
import { bool, str } from '../../flags.ts'
import { connectStreams } from './attach-streams.ts'

export const attachCommand: Command = {
  name: 'attach',
  group: 'container',
  usage: 'cais attach [OPTIONS] CONTAINER',
  description: "Attach local standard input, output, and error streams to a running container",
  flags: [{ name: 'no-stdin', type: 'bool' }, { name: 'detach-keys', type: 'string' }, { name: 'sig-proxy', type: 'bool' }],
  minArgs: 1,
  maxArgs: 1,
  async run(client, p, io) {
    const ref = p.args[0]!
    const info = await client.containers.inspect(ref)
    if (!info.State.Running) throw new Error('You cannot attach to a stopped container, start it first')
    if (info.State.Paused) throw new Error('You cannot attach to a paused container, unpause it first')
    const stdin = info.Config.OpenStdin && !bool(p, 'no-stdin')
    const attached = await client.containers.attach(info.Id, { stream: true, stdin, detachKeys: str(p, 'detach-keys') })
    const streams = connectStreams((h, w) => client.containers.resize(info.Id, h, w), attached, io, { stdin, tty: info.Config.Tty })
    await streams.started()
    await streams.done
    const after = await client.containers.inspect(info.Id).catch(() => undefined)
    if (!after || after.State.Running) {
      attached.socket.destroy()
      return 0
    }
    return after.State.ExitCode
  },
}
