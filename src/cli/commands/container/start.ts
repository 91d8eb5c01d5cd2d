import type { Command } from '../../command.ts'
import { bool, str } from '../../flags.ts'
import { forEachRef } from '../each.ts'
import { connectStreams } from './attach-streams.ts'

export const startCommand: Command = {
  name: 'start',
  group: 'container',
  usage: 'cais start [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Start one or more stopped containers',
  flags: [{ name: 'attach', short: 'a', type: 'bool' }, { name: 'interactive', short: 'i', type: 'bool' }, { name: 'detach-keys', type: 'string' }],
  minArgs: 1,
  async run(client, p, io) {
    if ((bool(p, 'attach') || bool(p, 'interactive')) && p.args.length === 1) {
      const id = p.args[0]!
      const info = await client.containers.inspect(id)
      const stdin = bool(p, 'interactive') && info.Config.OpenStdin
      const attached = await client.containers.attach(id, { stream: true, stdin, detachKeys: str(p, 'detach-keys') })
      const { result } = await client.containers.wait(id, 'next-exit')
      const streams = connectStreams((h, w) => client.containers.resize(id, h, w), attached, io, { stdin, tty: info.Config.Tty })
      await client.containers.start(id)
      await streams.started()
      await streams.done
      // Still running after the output ended: the user detached (which takes stdin attached).
      if (stdin && (await client.containers.inspect(id)).State.Running) {
        attached.socket.destroy()
        return 0
      }
      return (await result).StatusCode
    }
    return forEachRef(p.args, io, async (ref) => {
      await client.containers.start(ref)
      io.out(ref)
    })
  },
}
