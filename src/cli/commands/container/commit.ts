import type { Command } from '../../command.ts'
import { list, str } from '../../flags.ts'

export const commitCommand: Command = {
  name: 'commit',
  group: 'container',
  usage: "cais commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
  description: "Create a new image from a container's changes",
  flags: [
    { name: 'author', short: 'a', type: 'string' },
    { name: 'change', short: 'c', type: 'list' },
    { name: 'message', short: 'm', type: 'string' },
    { name: 'pause', short: 'p', type: 'bool' },
  ],
  minArgs: 1,
  maxArgs: 2,
  async run(client, p, io) {
    const [container, reference] = p.args as [string, string | undefined]
    let repo: string | undefined
    let tag: string | undefined
    if (reference) {
      // The tag is what follows the last colon, unless that colon belongs to a registry's port.
      const colon = reference.lastIndexOf(':')
      if (colon > reference.lastIndexOf('/')) {
        repo = reference.slice(0, colon)
        tag = reference.slice(colon + 1)
      } else repo = reference
    }
    const r = await client.images.commit(container, {
      repo,
      tag,
      author: str(p, 'author'),
      comment: str(p, 'message'),
      changes: list(p, 'change'),
      pause: p.flags.get('pause') !== false,
    })
    io.out(r.Id)
    return 0
  },
}
