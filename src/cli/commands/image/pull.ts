import type { Command } from '../../command.ts'

export const pullCommand: Command = {
  name: 'pull',
  group: 'image',
  usage: 'cais pull [OPTIONS] NAME[:TAG|@DIGEST]',
  description: 'Download an image from a registry',
  flags: [{ name: 'all-tags', short: 'a', type: 'bool' }, { name: 'quiet', short: 'q', type: 'bool' }, { name: 'platform', type: 'string' }],
  minArgs: 1,
  maxArgs: 1,
  async run(client, p, io) {
    const ref = p.args[0]!
    const at = ref.indexOf('@')
    const colon = ref.lastIndexOf(':')
    const [image, tag] = at >= 0 ? [ref.slice(0, at), ref.slice(at + 1)] : colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest']
    for (const m of await client.images.pull(image, tag)) if (m.status) io.out(m.id ? `${m.id}: ${m.status}` : m.status)
    return 0
  },
}
