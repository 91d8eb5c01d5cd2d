import { createReadStream } from 'node:fs'
import type { Command } from '../../command.ts'
import { list, str } from '../../flags.ts'

export const importCommand: Command = {
  name: 'import',
  group: 'image',
  usage: 'cais import [OPTIONS] file|- [REPOSITORY[:TAG]]',
  description: 'Import the contents from a tarball to create a filesystem image',
  flags: [{ name: 'change', short: 'c', type: 'list' }, { name: 'message', short: 'm', type: 'string' }, { name: 'platform', type: 'string' }],
  minArgs: 1,
  maxArgs: 2,
  async run(client, p, io) {
    const [source, repo] = p.args as [string, string | undefined]
    if (/^https?:\/\//.test(source)) throw new Error('importing from a URL is not supported; download the archive and pass the file')
    const tar = source === '-' ? io.stdin : createReadStream(source)
    const messages = await client.images.import(tar, { repo, message: str(p, 'message'), changes: list(p, 'change') })
    for (const m of messages) if (m.status) io.out(m.status)
    return 0
  },
}
