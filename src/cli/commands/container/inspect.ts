import { ApiError } from '../../../client/http.ts'
import type { Command } from '../../command.ts'
import { describeError } from '../../errors.ts'
import { bool, str } from '../../flags.ts'
import { FormatError, inspectFormatter } from '../../output/template.ts'

export const inspectCommand: Command = {
  name: 'inspect',
  group: 'container',
  usage: 'cais inspect [OPTIONS] NAME|ID [NAME|ID...]',
  description: 'Return low-level information on containers and images',
  flags: [{ name: 'format', short: 'f', type: 'string' }, { name: 'type', type: 'string' }, { name: 'size', short: 's', type: 'bool' }],
  minArgs: 1,
  async run(client, p, io) {
    const type = str(p, 'type')
    const results: unknown[] = []
    let status = 0
    for (const ref of p.args) {
      try {
        if (type === 'image') results.push(await client.images.inspect(ref))
        else if (type === 'container') results.push(await client.containers.inspect(ref, { size: bool(p, 'size') }))
        else {
          try {
            results.push(await client.containers.inspect(ref, { size: bool(p, 'size') }))
          } catch (err) {
            if (!(err instanceof ApiError) || err.status !== 404) throw err
            results.push(await client.images.inspect(ref).catch((e: unknown) => {
              throw e instanceof ApiError && e.status === 404 ? new Error(`No such object: ${ref}`) : e
            }))
          }
        }
      } catch (err) {
        io.err(err instanceof ApiError ? describeError(err) : `Error: ${(err as Error).message}`)
        status = 1
      }
    }
    const format = str(p, 'format')
    if (format) {
      const render = inspectFormatter(format)
      // Each object on its own, as the docker CLI: one that the template fails on is an error line and a non-zero exit.
      for (const r of results) {
        try {
          io.out(render(r))
        } catch (err) {
          if (!(err instanceof FormatError)) throw err
          io.err(err.message)
          status = 1
        }
      }
    }
    else io.out(JSON.stringify(results, null, 4))
    return status
  },
}

/** `cais image inspect`: images only, as `docker image inspect`. */
export const imageInspectCommand: Command = {
  ...inspectCommand,
  group: 'image',
  topLevel: false,
  usage: 'cais image inspect [OPTIONS] IMAGE [IMAGE...]',
  description: 'Display detailed information on one or more images',
  flags: [{ name: 'format', short: 'f', type: 'string' }],
  run: (client, p, io) => inspectCommand.run(client, { ...p, flags: new Map([...p.flags, ['type', 'image']]) }, io),
}
