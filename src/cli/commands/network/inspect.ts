import type { Command } from '../../command.ts'
import { str } from '../../flags.ts'
import { FormatError, inspectFormatter } from '../../output/template.ts'
import { describeError } from '../../errors.ts'

export const networkInspectCommand: Command = {
  name: 'inspect',
  group: 'network',
  topLevel: false,
  usage: 'cais network inspect [OPTIONS] NETWORK [NETWORK...]',
  description: 'Display detailed information on one or more networks',
  flags: [{ name: 'format', short: 'f', type: 'string' }],
  minArgs: 1,
  async run(client, p, io) {
    const found: unknown[] = []
    let status = 0
    for (const ref of p.args) {
      try {
        found.push(await client.networks.inspect(ref))
      } catch (err) {
        io.err(describeError(err))
        status = 1
      }
    }
    const format = str(p, 'format')
    if (format) {
      const render = inspectFormatter(format)
      // Each object on its own, as the docker CLI: one that the template fails on is an error line and a non-zero exit.
      for (const n of found) {
        try {
          io.out(render(n))
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
