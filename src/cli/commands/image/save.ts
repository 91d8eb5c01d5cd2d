import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import type { Command } from '../../command.ts'
import { str } from '../../flags.ts'

export const saveCommand: Command = {
  name: 'save',
  group: 'image',
  usage: 'cais save [OPTIONS] IMAGE [IMAGE...]',
  description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  flags: [{ name: 'output', short: 'o', type: 'string' }, { name: 'platform', type: 'string' }],
  minArgs: 1,
  async run(client, p, io) {
    const output = str(p, 'output')
    if (!output && (io.stdout as { isTTY?: boolean }).isTTY) {
      throw new Error('cowardly refusing to save to a terminal. Use the -o flag or redirect')
    }
    const tar = await client.images.save(p.args)
    await pipeline(tar, output ? createWriteStream(output) : io.stdout, { end: Boolean(output) })
    return 0
  },
}
