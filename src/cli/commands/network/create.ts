import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'
import { keyValues } from '../kv.ts'

export const networkCreateCommand: Command = {
  name: 'create',
  group: 'network',
  topLevel: false,
  usage: 'cais network create [OPTIONS] NETWORK',
  description: 'Create a network',
  flags: [
    { name: 'driver', short: 'd', type: 'string' },
    { name: 'subnet', type: 'list' },
    { name: 'gateway', type: 'list' },
    { name: 'ip-range', type: 'list' },
    { name: 'internal', type: 'bool' },
    { name: 'attachable', type: 'bool' },
    { name: 'label', type: 'list' },
    { name: 'opt', short: 'o', type: 'list' },
    { name: 'ipv6', type: 'bool' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(client, p, io) {
    const subnets = list(p, 'subnet')
    const gateways = list(p, 'gateway')
    const ranges = list(p, 'ip-range')
    if (gateways.length > subnets.length || ranges.length > subnets.length) throw new Error('every ip-range or gateway must have a corresponding subnet')
    const r = await client.networks.create({
      Name: p.args[0]!,
      Driver: str(p, 'driver') ?? 'bridge',
      Internal: bool(p, 'internal'),
      Attachable: bool(p, 'attachable'),
      Labels: keyValues(list(p, 'label')),
      Options: keyValues(list(p, 'opt')),
      EnableIPv6: bool(p, 'ipv6'),
      IPAM: {
        Driver: 'default',
        Config: subnets.map((s, i) => ({ Subnet: s, ...(gateways[i] ? { Gateway: gateways[i] } : {}), ...(ranges[i] ? { IPRange: ranges[i] } : {}) })),
      },
    })
    io.out(r.Id)
    return 0
  },
}
