import type { Command } from '../../command.ts'
import { registryKeyOfServer, removeCredentials } from '../../registry-auth.ts'

export const logoutCommand: Command = {
  name: 'logout',
  group: 'none',
  usage: 'cais logout [SERVER]',
  description: 'Log out from a registry',
  flags: [],
  maxArgs: 1,
  async run(_client, p, io) {
    const key = registryKeyOfServer(p.args[0])
    if (await removeCredentials(key)) io.out(`Removing login credentials for ${key}`)
    else io.out(`Not logged in to ${key}`)
    return 0
  },
}
