import type { Command } from '../../command.ts'
import { forEachRef } from '../each.ts'

export const unpauseCommand: Command = {
  name: 'unpause',
  group: 'container',
  usage: 'cais unpause CONTAINER [CONTAINER...]',
  description: 'Unpause all processes within one or more containers',
  flags: [],
  minArgs: 1,
  async run(client, p, io) {
    return forEachRef(p.args, io, async (ref) => {
      await client.containers.unpause(ref)
      io.out(ref)
    })
  },
}
