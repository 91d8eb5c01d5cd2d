import type { Command } from '../../command.ts'
import { bool } from '../../flags.ts'
import { forEachRef } from '../each.ts'

export const rmiCommand: Command = {
  name: 'rmi',
  group: 'image',
  groupAlias: 'rm',
  usage: 'cais rmi [OPTIONS] IMAGE [IMAGE...]',
  description: 'Remove one or more images',
  flags: [{ name: 'force', short: 'f', type: 'bool' }, { name: 'no-prune', type: 'bool' }],
  minArgs: 1,
  async run(client, p, io) {
    return forEachRef(p.args, io, async (ref) => {
      for (const item of await client.images.remove(ref, { force: bool(p, 'force'), noprune: bool(p, 'no-prune') })) {
        if (item.Untagged) io.out(`Untagged: ${item.Untagged}`)
        if (item.Deleted) io.out(`Deleted: ${item.Deleted}`)
      }
    })
  },
}
