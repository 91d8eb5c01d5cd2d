import type { Command } from '../../command.ts'

export const tagCommand: Command = {
  name: 'tag',
  group: 'image',
  usage: 'cais tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  flags: [],
  minArgs: 2,
  maxArgs: 2,
  async run(client, p) {
    await client.images.tag(p.args[0]!, p.args[1]!)
    return 0
  },
}
