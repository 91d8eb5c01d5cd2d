import type { Command } from '../../command.ts'
import { bool } from '../../flags.ts'
import { forEachRef } from '../each.ts'

export const volumeRmCommand: Command = {
  name: 'rm',
  group: 'volume',
  topLevel: false,
  usage: 'cais volume rm [OPTIONS] VOLUME [VOLUME...]',
  description: 'Remove one or more volumes',
  flags: [{ name: 'force', short: 'f', type: 'bool' }],
  minArgs: 1,
  async run(client, p, io) {
    return forEachRef(p.args, io, async (name) => {
      await client.volumes.remove(name, { force: bool(p, 'force') })
      io.out(name)
    })
  },
}
