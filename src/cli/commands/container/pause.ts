import type { Command } from '../../command.ts'
import { forEachRef } from '../each.ts'

export const pauseCommand: Command = {
  name: 'pause',
  group: 'container',
  usage: 'cais pause CONTAINER [CONTAINER...]',
  description: 'Pause all processes within one or more containers',
  flags: [],
  minArgs: 1,
  async run(client, p, io) {
    return forEachRef(p.args, io, async (ref) => {
      await client.containers.pause(ref)
      io.out(ref)
    })
  },
}
