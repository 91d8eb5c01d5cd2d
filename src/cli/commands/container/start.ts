import type { Command } from '../../command.ts'
import { bool } from '../../flags.ts'
import { forEachRef } from '../each.ts'

export const startCommand: Command = {
  name: 'start',
  group: 'container',
  usage: 'cais start [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Start one or more stopped containers',
  flags: [{ name: 'attach', short: 'a', type: 'bool' }, { name: 'interactive', short: 'i', type: 'bool' }],
  minArgs: 1,
  async run(client, p, io) {
    if (bool(p, 'attach') && p.args.length === 1) {
      const id = p.args[0]!
      const attached = await client.containers.attach(id, { stream: true })
      const { result } = await client.containers.wait(id, 'next-exit')
      await client.containers.start(id)
      for await (const chunk of attached.output) (chunk.stream === 'stderr' ? io.stderr : io.stdout).write(chunk.data)
      return (await result).StatusCode
    }
    return forEachRef(p.args, io, async (ref) => {
      await client.containers.start(ref)
      io.out(ref)
    })
  },
}
