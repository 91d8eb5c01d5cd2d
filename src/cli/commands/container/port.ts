import type { Command } from '../../command.ts'

export const portCommand: Command = {
  name: 'port',
  group: 'container',
  usage: 'cais port CONTAINER [PRIVATE_PORT[/PROTO]]',
  description: 'List port mappings or a specific mapping for the container',
  flags: [],
  minArgs: 1,
  maxArgs: 2,
  async run(client, p, io) {
    const c = await client.containers.inspect(p.args[0]!)
    const ports = ((c.NetworkSettings as { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> }).Ports ?? {})
    const wanted = p.args[1]
    if (wanted !== undefined) {
      const key = wanted.includes('/') ? wanted : `${wanted}/tcp`
      const bindings = ports[key]
      if (!bindings?.length) throw new Error(`Error: No public port '${key}' published for ${p.args[0]}`)
      for (const b of bindings) io.out(`${b.HostIp}:${b.HostPort}`)
      return 0
    }
    const keys = Object.keys(ports).sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10))
    for (const k of keys) for (const b of ports[k] ?? []) io.out(`${k} -> ${b.HostIp}:${b.HostPort}`)
    return 0
  },
}
