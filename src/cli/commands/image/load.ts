import { createReadStream } from 'node:fs'
import type { Command } from '../../command.ts'
import { bool, str } from '../../flags.ts'

export const loadCommand: Command = {
  name: 'load',
  group: 'image',
  usage: 'cais load [OPTIONS]',
  description: 'Load an image from a tar archive or STDIN',
  flags: [{ name: 'input', short: 'i', type: 'string' }, { name: 'quiet', short: 'q', type: 'bool' }],
  maxArgs: 0,
  async run(client, p, io) {
    const input = str(p, 'input')
    if (!input && (io.stdin as { isTTY?: boolean }).isTTY) throw new Error('requested load from stdin, but stdin is empty')
    const messages = await client.images.load(input ? createReadStream(input) : io.stdin, { quiet: bool(p, 'quiet') })
    for (const m of messages) if (m.stream) io.stdout.write(m.stream)
    return 0
  },
}
