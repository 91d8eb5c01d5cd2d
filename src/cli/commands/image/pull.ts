import type { EngineClient } from '../../../client/engine-client.ts'
import type { Command } from '../../command.ts'
import { bool, str } from '../../flags.ts'
import type { Io } from '../../io.ts'
import { displayProgress } from '../../output/progress.ts'
import { registryAuthFor } from '../../registry-auth.ts'
import { splitImageName } from '../../../lib/image-name.ts'

/** Pulls with the stored credentials of the image's registry, rendering progress on `out`. */
export async function pullImage(client: EngineClient, ref: string, io: Io, opts: { allTags?: boolean; quiet?: boolean; platform?: string | undefined; toStderr?: boolean } = {}): Promise<void> {
  const { image, tag } = splitImageName(ref)
  if (opts.allTags && tag !== undefined) throw new Error('tag can\'t be used with --all-tags/-a')
  const out = opts.toStderr ? io.stderr : io.stdout
  const effectiveTag = opts.allTags ? '' : (tag ?? 'latest')
  if (!opts.allTags && tag === undefined && !opts.quiet) out.write('Using default tag: latest\n')
  const stream = await client.images.pull(image, { tag: effectiveTag, platform: opts.platform, auth: await registryAuthFor(image) })
  if (opts.quiet) {
    for await (const m of stream) if (m.errorDetail || m.error) throw new Error(m.errorDetail?.message ?? m.error)
  } else {
    await displayProgress(stream, out, (out as { isTTY?: boolean }).isTTY === true)
  }
}

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
    await pullImage(client, ref, io, { allTags: bool(p, 'all-tags'), quiet: bool(p, 'quiet'), platform: str(p, 'platform') })
    if (!bool(p, 'all-tags')) io.out(fullName(ref))
    return 0
  },
}

/** docker prints the normalised name at the end of a pull: `docker.io/library/busybox:latest`. */
function fullName(ref: string): string {
  const { image, tag } = splitImageName(ref)
  const slash = image.indexOf('/')
  const first = slash > 0 ? image.slice(0, slash) : ''
  const hasDomain = first.includes('.') || first.includes(':') || first === 'localhost'
  const name = hasDomain ? image : `docker.io/${slash > 0 ? image : `library/${image}`}`
  return tag === undefined ? `${name}:latest` : `${name}${ref.includes('@') ? '@' : ':'}${tag}`
}
