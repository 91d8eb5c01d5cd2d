import type { Command } from '../../command.ts'
import { str } from '../../flags.ts'
import { forEachRef } from '../each.ts'

export const restartCommand: Command = {
  name: 'restart',
  group: 'container',
  usage: 'cais restart [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Restart one or more containers',
  flags: [{ name: 'time', short: 't', type: 'string' }, { name: 'signal', short: 's', type: 'string' }],
  minArgs: 1,
  async run(client, p, io) {
    const t = str(p, 'time')
    return forEachRef(p.args, io, async (ref) => {
      await client.containers.restart(ref, { t: t === undefined ? undefined : Number(t), signal: str(p, 'signal') })
      io.out(ref)
    })
  },
}
