import type { Command } from '../../command.ts'
import { UsageError, bool, list, str } from '../../flags.ts'

export const networkConnectCommand: Command = {
  name: 'connect',
  group: 'network',
  topLevel: false,
  usage: 'cais network connect [OPTIONS] NETWORK CONTAINER',
  description: 'Connect a container to a network',
  flags: [{ name: 'alias', type: 'list' }, { name: 'ip', type: 'string' }, { name: 'gw-priority', type: 'string' }],
  minArgs: 2,
  maxArgs: 2,
  async run(client, p) {
    const ip = str(p, 'ip')
    const priority = str(p, 'gw-priority')
    if (priority !== undefined && !/^-?\d+$/.test(priority)) throw new UsageError(`invalid argument "${priority}" for "--gw-priority" flag: strconv.ParseInt: parsing "${priority}": invalid syntax`)
    await client.networks.connect(p.args[0]!, p.args[1]!, {
      ...(list(p, 'alias').length > 0 ? { Aliases: list(p, 'alias') } : {}),
      ...(ip ? { IPAMConfig: { IPv4Address: ip } } : {}),
      ...(priority ? { GwPriority: Number(priority) } : {}),
    })
    return 0
  },
}

export const networkDisconnectCommand: Command = {
  name: 'disconnect',
  group: 'network',
  topLevel: false,
  usage: 'cais network disconnect [OPTIONS] NETWORK CONTAINER',
  description: 'Disconnect a container from a network',
  flags: [{ name: 'force', short: 'f', type: 'bool' }],
  minArgs: 2,
  maxArgs: 2,
  async run(client, p) {
    await client.networks.disconnect(p.args[0]!, p.args[1]!, { force: bool(p, 'force') })
    return 0
  },
}
