import type { Command } from '../../command.ts'
import { renderTable } from '../../output/table.ts'

export const topCommand: Command = {
  name: 'top',
  group: 'container',
  usage: 'cais top CONTAINER [ps OPTIONS]',
  description: 'Display the running processes of a container',
  flags: [],
  interspersed: false,
  minArgs: 1,
  async run(client, p, io) {
    const [id, ...psArgs] = p.args as [string, ...string[]]
    const top = await client.containers.top(id, psArgs.length > 0 ? psArgs.join(' ') : undefined)
    for (const line of renderTable([top.Titles, ...top.Processes])) io.out(line)
    return 0
  },
}
