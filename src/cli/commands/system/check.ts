import type { Command } from '../../command.ts'
import { bool, str } from '../../flags.ts'
import { describeStoreCheck, storeCheckStatus } from '../../../wire/store-check.ts'

export const checkCommand: Command = {
  name: 'check',
  group: 'system',
  topLevel: false,
  usage: 'cais system check [OPTIONS]',
  description: "Check the daemon's store: blobs against their digests, layers, images, containers, volumes, networks",
  flags: [
    { name: 'repair', type: 'bool' },
    { name: 'format', short: 'f', type: 'string' },
  ],
  maxArgs: 0,
  async run(client, p, io) {
    const report = await client.system.check({ repair: bool(p, 'repair') })
    if (str(p, 'format') === 'json') io.out(JSON.stringify(report))
    else for (const line of describeStoreCheck(report, bool(p, 'repair'))) io.out(line)
    return storeCheckStatus(report)
  },
}
