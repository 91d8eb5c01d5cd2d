import type { Command } from '../../command.ts'
import { str } from '../../flags.ts'
import { forEachRef } from '../each.ts'

export const killCommand: Command = {
  name: 'kill',
  group: 'container',
  usage: 'cais kill [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Kill one or more running containers',
  flags: [{ name: 'signal', short: 's', type: 'string' }],
  minArgs: 1,
  async run(client, p, io) {
    return forEachRef(p.args, io, async (ref) => {
      await client.containers.kill(ref, str(p, 'signal'))
      io.out(ref)
    })
  },
}
