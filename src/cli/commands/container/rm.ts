import type { Command } from '../../command.ts'
import { bool } from '../../flags.ts'
import { forEachRef } from '../each.ts'

export const rmCommand: Command = {
  name: 'rm',
  group: 'container',
  usage: 'cais rm [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Remove one or more containers',
  flags: [{ name: 'force', short: 'f', type: 'bool' }, { name: 'volumes', short: 'v', type: 'bool' }, { name: 'link', short: 'l', type: 'bool' }],
  minArgs: 1,
  async run(client, p, io) {
    return forEachRef(p.args, io, async (ref) => {
      await client.containers.remove(ref, { force: bool(p, 'force'), v: bool(p, 'volumes') })
      io.out(ref)
    })
  },
}
