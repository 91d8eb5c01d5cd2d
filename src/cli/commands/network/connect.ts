import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'

export const networkConnectCommand: Command = {
  name: 'connect',
  group: 'network',
  topLevel: false,
  usage: 'cais network connect [OPTIONS] NETWORK CONTAINER',
  description: 'Connect a container to a network',
  flags: [{ name: 'alias', type: 'list' }, { name: 'ip', type: 'string' }],
  minArgs: 2,
  maxArgs: 2,
  async run(client, p) {
    const ip = str(p, 'ip')
    await client.networks.connect(p.args[0]!, p.args[1]!, {
      ...(list(p, 'alias').length > 0 ? { Aliases: list(p, 'alias') } : {}),
      ...(ip ? { IPAMConfig: { IPv4Address: ip } } : {}),
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
