import type { Command } from '../../command.ts'
import { forEachRef } from '../each.ts'

export const networkRmCommand: Command = {
  name: 'rm',
  group: 'network',
  groupAlias: 'remove',
  topLevel: false,
  usage: 'cais network rm NETWORK [NETWORK...]',
  description: 'Remove one or more networks',
  flags: [{ name: 'force', short: 'f', type: 'bool' }],
  minArgs: 1,
  async run(client, p, io) {
    return forEachRef(p.args, io, async (ref) => {
      await client.networks.remove(ref)
      io.out(ref)
    })
  },
}
