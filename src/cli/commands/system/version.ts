import type { Command } from '../../command.ts'
import { str } from '../../flags.ts'
import { renderTemplate } from '../../output/template.ts'

export const clientVersion = '0.1.0'

export const versionCommand: Command = {
  name: 'version',
  group: 'system',
  usage: 'cais version [OPTIONS]',
  description: 'Show the cais version information',
  flags: [{ name: 'format', short: 'f', type: 'string' }],
  maxArgs: 0,
  async run(client, p, io) {
    const clientInfo = { Version: clientVersion, ApiVersion: '1.50', Os: 'linux', Arch: process.arch === 'x64' ? 'amd64' : process.arch, NodeVersion: process.version }
    const format = str(p, 'format')
    let server
    let serverErr: unknown
    try {
      server = await client.system.version()
    } catch (err) {
      serverErr = err
    }
    if (format) {
      io.out(format === 'json' ? JSON.stringify({ Client: clientInfo, Server: server ?? null }) : renderTemplate(format, { Client: clientInfo, Server: server }))
      if (serverErr) throw serverErr
      return 0
    }
    io.out('Client:')
    io.out(` Version:           ${clientInfo.Version}`)
    io.out(` API version:       ${clientInfo.ApiVersion}`)
    io.out(` Node version:      ${clientInfo.NodeVersion}`)
    io.out(` OS/Arch:           ${clientInfo.Os}/${clientInfo.Arch}`)
    if (serverErr) throw serverErr
    io.out('')
    io.out(`Server: ${server!.Platform.Name}`)
    io.out(' Engine:')
    io.out(`  Version:          ${server!.Version}`)
    io.out(`  API version:      ${server!.ApiVersion} (minimum version ${server!.MinAPIVersion})`)
    io.out(`  Runtime:          ${server!.GoVersion}`)
    io.out(`  OS/Arch:          ${server!.Os}/${server!.Arch}`)
    io.out(`  Kernel:           ${server!.KernelVersion}`)
    return 0
  },
}
