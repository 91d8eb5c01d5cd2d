import type { Command } from '../../command.ts'
import { describeError } from '../../errors.ts'
import { str } from '../../flags.ts'
import { renderTemplate } from '../../output/template.ts'

export const volumeInspectCommand: Command = {
  name: 'inspect',
  group: 'volume',
  topLevel: false,
  usage: 'cais volume inspect [OPTIONS] VOLUME [VOLUME...]',
  description: 'Display detailed information on one or more volumes',
  flags: [{ name: 'format', short: 'f', type: 'string' }],
  minArgs: 1,
  async run(client, p, io) {
    const found: unknown[] = []
    let status = 0
    for (const name of p.args) {
      try {
        found.push(await client.volumes.inspect(name))
      } catch (err) {
        io.err(describeError(err))
        status = 1
      }
    }
    const format = str(p, 'format')
    if (format) for (const v of found) io.out(renderTemplate(format, v))
    else io.out(JSON.stringify(found, null, 4))
    return status
  },
}
