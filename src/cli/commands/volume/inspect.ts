import type { Command } from '../../command.ts'
import { describeError } from '../../errors.ts'
import { str } from '../../flags.ts'
import { FormatError, inspectFormatter } from '../../output/template.ts'

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
    if (format) {
      const render = inspectFormatter(format)
      // Each object on its own, as the docker CLI: one that the template fails on is an error line and a non-zero exit.
      for (const v of found) {
        try {
          io.out(render(v))
        } catch (err) {
          if (!(err instanceof FormatError)) throw err
          io.err(err.message)
          status = 1
        }
      }
    }
    else io.out(JSON.stringify(found, null, 4))
    return status
  },
}
