import type { Command } from '../../command.ts'

export const diffCommand: Command = {
  name: 'diff',
  group: 'container',
  usage: 'cais diff CONTAINER',
  description: "Inspect changes to files or directories on a container's filesystem",
  flags: [],
  minArgs: 1,
  maxArgs: 1,
  async run(client, p, io) {
    for (const c of await client.containers.changes(p.args[0]!)) io.out(`${'CAD'[c.Kind]} ${c.Path}`)
    return 0
  },
}
