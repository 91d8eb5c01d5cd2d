import type { Command } from '../../command.ts'
import { str } from '../../flags.ts'
import { renderTemplate } from '../../output/template.ts'
import { clientApiVersion } from '../../../client/http.ts'

export const clientVersion = '0.1.0'

export const versionCommand: Command = {
  name: 'version',
  group: 'system',
  usage: 'cais version [OPTIONS]',
  description: 'Show the cais version information',
  flags: [{ name: 'format', short: 'f', type: 'string' }],
  maxArgs: 0,
  async run(client, p, io) {
    const format = str(p, 'format')
    const server = await client.system.version().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))
    // The version spoken, once negotiated with the daemon: lower than the client's own against an older engine.
    const spoken = client.http.version ?? clientApiVersion
    const clientInfo = { Version: clientVersion, ApiVersion: spoken, DefaultAPIVersion: clientApiVersion, Os: 'linux', Arch: process.arch === 'x64' ? 'amd64' : process.arch, NodeVersion: process.version }
    if (format) {
      const serverInfo = server instanceof Error ? null : server
      io.out(format === 'json' ? JSON.stringify({ Client: clientInfo, Server: serverInfo }) : renderTemplate(format, { Client: clientInfo, Server: serverInfo }))
      if (server instanceof Error) throw server
      return 0
    }
    io.out('Client:')
    io.out(` Version:           ${clientInfo.Version}`)
    io.out(` API version:       ${spoken}${spoken === clientApiVersion ? '' : ` (downgraded from ${clientApiVersion})`}`)
    io.out(` Node version:      ${clientInfo.NodeVersion}`)
    io.out(` OS/Arch:           ${clientInfo.Os}/${clientInfo.Arch}`)
    if (server instanceof Error) throw server
    io.out('')
    io.out(`Server: ${server.Platform.Name}`)
    io.out(' Engine:')
    io.out(`  Version:          ${server.Version}`)
    io.out(`  API version:      ${server.ApiVersion} (minimum version ${server.MinAPIVersion})`)
    io.out(`  Runtime:          ${server.GoVersion}`)
    io.out(`  OS/Arch:          ${server.Os}/${server.Arch}`)
    io.out(`  Kernel:           ${server.KernelVersion}`)
    return 0
  },
}
