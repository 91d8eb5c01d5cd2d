import type { Command } from '../../command.ts'
import { list, str } from '../../flags.ts'
import { keyValues } from '../kv.ts'

export const volumeCreateCommand: Command = {
  name: 'create',
  group: 'volume',
  topLevel: false,
  usage: 'cais volume create [OPTIONS] [VOLUME]',
  description: 'Create a volume',
  flags: [
    { name: 'driver', short: 'd', type: 'string' },
    { name: 'opt', short: 'o', type: 'list' },
    { name: 'label', type: 'list' },
    { name: 'name', type: 'string' },
  ],
  maxArgs: 1,
  async run(client, p, io) {
    const name = p.args[0] ?? str(p, 'name')
    const v = await client.volumes.create({
      ...(name ? { Name: name } : {}),
      Driver: str(p, 'driver') ?? 'local',
      DriverOpts: keyValues(list(p, 'opt')),
      Labels: keyValues(list(p, 'label')),
    })
    io.out(v.Name)
    return 0
  },
}
