import type { Command } from '../../command.ts'
import { str } from '../../flags.ts'
import { forEachRef } from '../each.ts'
import { resourcesOf } from './create-flags.ts'

export const updateCommand: Command = {
  name: 'update',
  group: 'container',
  usage: 'cais update [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Update configuration of one or more containers',
  flags: [
    { name: 'memory', short: 'm', type: 'string' },
    { name: 'memory-swap', type: 'string' },
    { name: 'memory-reservation', type: 'string' },
    { name: 'cpus', type: 'string' },
    { name: 'cpu-shares', short: 'c', type: 'string' },
    { name: 'cpu-period', type: 'string' },
    { name: 'cpu-quota', type: 'string' },
    { name: 'cpuset-cpus', type: 'string' },
    { name: 'cpuset-mems', type: 'string' },
    { name: 'pids-limit', type: 'string' },
    { name: 'restart', type: 'string' },
  ],
  minArgs: 1,
  async run(client, p, io) {
    const body: Record<string, unknown> = resourcesOf(p)
    const restart = str(p, 'restart')
    if (restart !== undefined) {
      const [Name, retries = '0'] = restart.split(':')
      body['RestartPolicy'] = { Name, MaximumRetryCount: Number(retries) }
    }
    if (Object.keys(body).length === 0) throw new Error('you must provide one or more flags when using this command')
    return forEachRef(p.args, io, async (ref) => {
      await client.containers.update(ref, body)
      io.out(ref)
    })
  },
}
