import type { Command } from '../../command.ts'
import { bool } from '../../flags.ts'
import { displayProgress } from '../../output/progress.ts'
import { registryAuthFor } from '../../registry-auth.ts'
import { splitImageName } from '../../../lib/image-name.ts'

export const pushCommand: Command = {
  name: 'push',
  group: 'image',
  usage: 'cais push [OPTIONS] NAME[:TAG]',
  description: 'Upload an image to a registry',
  flags: [{ name: 'all-tags', short: 'a', type: 'bool' }, { name: 'quiet', short: 'q', type: 'bool' }],
  minArgs: 1,
  maxArgs: 1,
  async run(client, p, io) {
    const ref = p.args[0]!
    const { image, tag } = splitImageName(ref)
    if (ref.includes('@')) throw new Error('cannot push a digest reference')
    if (bool(p, 'all-tags') && tag !== undefined) throw new Error('tag can\'t be used with --all-tags/-a')
    if (!bool(p, 'all-tags') && tag === undefined && !bool(p, 'quiet')) io.out('Using default tag: latest')
    const stream = await client.images.push(image, { tag: bool(p, 'all-tags') ? undefined : (tag ?? 'latest'), auth: await registryAuthFor(image) })
    if (bool(p, 'quiet')) {
      for await (const m of stream) if (m.errorDetail || m.error) throw new Error(m.errorDetail?.message ?? m.error)
      io.out(ref)
    } else {
      await displayProgress(stream, io.stdout, (io.stdout as { isTTY?: boolean }).isTTY === true)
    }
    return 0
  },
}
