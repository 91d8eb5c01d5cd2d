import type { Command } from '../../command.ts'

export const renameCommand: Command = {
  name: 'rename',
  group: 'container',
  usage: 'cais rename CONTAINER NEW_NAME',
  description: 'Rename a container',
  flags: [],
  minArgs: 2,
  maxArgs: 2,
  async run(client, p) {
    await client.containers.rename(p.args[0]!, p.args[1]!)
    return 0
  },
}
