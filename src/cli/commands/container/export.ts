import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import type { Command } from '../../command.ts'
import { str } from '../../flags.ts'

export const exportCommand: Command = {
  name: 'export',
  group: 'container',
  usage: 'cais export [OPTIONS] CONTAINER',
  description: "Export a container's filesystem as a tar archive",
  flags: [{ name: 'output', short: 'o', type: 'string' }],
  minArgs: 1,
  maxArgs: 1,
  async run(client, p, io) {
    const output = str(p, 'output')
    if (!output && (io.stdout as { isTTY?: boolean }).isTTY) {
      throw new Error('cowardly refusing to save to a terminal. Use the -o flag or redirect')
    }
    const tar = await client.containers.export(p.args[0]!)
    await pipeline(tar, output ? createWriteStream(output) : io.stdout, { end: Boolean(output) })
    return 0
  },
}
