import type { Command } from '../../command.ts'
import { createFlags } from './create-flags.ts'
import { createContainer } from './run.ts'

export const createCommand: Command = {
  name: 'create',
  group: 'container',
  usage: 'cais create [OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create a new container',
  flags: createFlags,
  interspersed: false,
  minArgs: 1,
  errorStatus: 125,
  async run(client, p, io) {
    io.out(await createContainer(client, p, io))
    return 0
  },
}
