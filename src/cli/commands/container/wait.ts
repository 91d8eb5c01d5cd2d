import type { Command } from '../../command.ts'
import { forEachRef } from '../each.ts'

export const waitCommand: Command = {
  name: 'wait',
  group: 'container',
  usage: 'cais wait CONTAINER [CONTAINER...]',
  description: 'Block until one or more containers stop, then print their exit codes',
  flags: [],
  minArgs: 1,
  async run(client, p, io) {
    return forEachRef(p.args, io, async (ref) => {
      const { result } = await client.containers.wait(ref, 'not-running')
      io.out(String((await result).StatusCode))
    })
  },
}
