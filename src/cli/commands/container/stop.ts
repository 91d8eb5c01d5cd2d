import type { Command } from '../../command.ts'
import { str } from '../../flags.ts'
import { forEachRef } from '../each.ts'

export const stopCommand: Command = {
  name: 'stop',
  group: 'container',
  usage: 'cais stop [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Stop one or more running containers',
  flags: [{ name: 'time', short: 't', type: 'string' }, { name: 'signal', short: 's', type: 'string' }],
  minArgs: 1,
  async run(client, p, io) {
    const t = str(p, 'time')
    return forEachRef(p.args, io, async (ref) => {
      await client.containers.stop(ref, { t: t === undefined ? undefined : Number(t), signal: str(p, 'signal') })
      io.out(ref)
    })
  },
}
