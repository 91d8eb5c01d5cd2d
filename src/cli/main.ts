import { enableCompileCache } from 'node:module'
import { EngineClient, defaultHost } from '../client/engine-client.ts'
import { type ConnectionFlags, resolveDaemon } from './daemon-endpoint.ts'
import type { Command } from './command.ts'
import { describeError } from './errors.ts'
import { UsageError, parseFlags } from './flags.ts'
import type { Io } from './io.ts'

enableCompileCache?.()

/**
 * Every verb, listed explicitly; each answers as `cais <verb>` and as `cais <group> <verb>`. A verb's module is
 * loaded only when it runs (starting the CLI is most of what a quick command costs); the module is the truth
 * for its flags and help, and must agree with its entry here.
 */
export interface CommandEntry {
  name: string
  group: Command['group']
  groupAlias?: string
  topLevel?: boolean
  load(): Promise<Command>
}

export const commandEntries: CommandEntry[] = [
  { name: 'run', group: 'container', load: async () => (await import('./commands/container/run.ts')).runCommand },
  { name: 'create', group: 'container', load: async () => (await import('./commands/container/create.ts')).createCommand },
  { name: 'start', group: 'container', load: async () => (await import('./commands/container/start.ts')).startCommand },
  { name: 'attach', group: 'container', load: async () => (await import('./commands/container/attach.ts')).attachCommand },
  { name: 'stop', group: 'container', load: async () => (await import('./commands/container/stop.ts')).stopCommand },
  { name: 'restart', group: 'container', load: async () => (await import('./commands/container/restart.ts')).restartCommand },
  { name: 'kill', group: 'container', load: async () => (await import('./commands/container/kill.ts')).killCommand },
  { name: 'rm', group: 'container', load: async () => (await import('./commands/container/rm.ts')).rmCommand },
  { name: 'wait', group: 'container', load: async () => (await import('./commands/container/wait.ts')).waitCommand },
  { name: 'ps', group: 'container', groupAlias: 'ls', load: async () => (await import('./commands/container/ps.ts')).psCommand },
  { name: 'logs', group: 'container', load: async () => (await import('./commands/container/logs.ts')).logsCommand },
  { name: 'inspect', group: 'container', load: async () => (await import('./commands/container/inspect.ts')).inspectCommand },
  { name: 'exec', group: 'container', load: async () => (await import('./commands/container/exec.ts')).execCommand },
  { name: 'pause', group: 'container', load: async () => (await import('./commands/container/pause.ts')).pauseCommand },
  { name: 'unpause', group: 'container', load: async () => (await import('./commands/container/unpause.ts')).unpauseCommand },
  { name: 'rename', group: 'container', load: async () => (await import('./commands/container/rename.ts')).renameCommand },
  { name: 'top', group: 'container', load: async () => (await import('./commands/container/top.ts')).topCommand },
  { name: 'diff', group: 'container', load: async () => (await import('./commands/container/diff.ts')).diffCommand },
  { name: 'prune', group: 'container', topLevel: false, load: async () => (await import('./commands/container/prune.ts')).containerPruneCommand },
  { name: 'commit', group: 'container', load: async () => (await import('./commands/container/commit.ts')).commitCommand },
  { name: 'export', group: 'container', load: async () => (await import('./commands/container/export.ts')).exportCommand },
  { name: 'cp', group: 'container', load: async () => (await import('./commands/container/cp.ts')).cpCommand },
  { name: 'stats', group: 'container', load: async () => (await import('./commands/container/stats.ts')).statsCommand },
  { name: 'update', group: 'container', load: async () => (await import('./commands/container/update.ts')).updateCommand },
  { name: 'build', group: 'image', load: async () => (await import('./commands/image/build.ts')).buildCommand },
  { name: 'prune', group: 'builder', topLevel: false, load: async () => (await import('./commands/builder/prune.ts')).builderPruneCommand },
  { name: 'images', group: 'image', groupAlias: 'ls', load: async () => (await import('./commands/image/images.ts')).imagesCommand },
  { name: 'inspect', group: 'image', topLevel: false, load: async () => (await import('./commands/container/inspect.ts')).imageInspectCommand },
  { name: 'history', group: 'image', load: async () => (await import('./commands/image/history.ts')).historyCommand },
  { name: 'import', group: 'image', load: async () => (await import('./commands/image/import.ts')).importCommand },
  { name: 'load', group: 'image', load: async () => (await import('./commands/image/load.ts')).loadCommand },
  { name: 'save', group: 'image', load: async () => (await import('./commands/image/save.ts')).saveCommand },
  { name: 'tag', group: 'image', load: async () => (await import('./commands/image/tag.ts')).tagCommand },
  { name: 'rmi', group: 'image', groupAlias: 'rm', load: async () => (await import('./commands/image/rmi.ts')).rmiCommand },
  { name: 'prune', group: 'image', topLevel: false, load: async () => (await import('./commands/image/prune.ts')).imagePruneCommand },
  { name: 'pull', group: 'image', load: async () => (await import('./commands/image/pull.ts')).pullCommand },
  { name: 'push', group: 'image', load: async () => (await import('./commands/image/push.ts')).pushCommand },
  { name: 'login', group: 'none', load: async () => (await import('./commands/registry/login.ts')).loginCommand },
  { name: 'logout', group: 'none', load: async () => (await import('./commands/registry/logout.ts')).logoutCommand },
  { name: 'search', group: 'none', load: async () => (await import('./commands/registry/search.ts')).searchCommand },
  { name: 'version', group: 'system', load: async () => (await import('./commands/system/version.ts')).versionCommand },
  { name: 'info', group: 'system', load: async () => (await import('./commands/system/info.ts')).infoCommand },
  { name: 'df', group: 'system', topLevel: false, load: async () => (await import('./commands/system/df.ts')).dfCommand },
  { name: 'check', group: 'system', topLevel: false, load: async () => (await import('./commands/system/check.ts')).checkCommand },
  { name: 'events', group: 'system', load: async () => (await import('./commands/system/events.ts')).eventsCommand },
  { name: 'ls', group: 'node', groupAlias: 'list', topLevel: false, load: async () => (await import('./commands/node/ls.ts')).nodeLsCommand },
  { name: 'create', group: 'volume', topLevel: false, load: async () => (await import('./commands/volume/create.ts')).volumeCreateCommand },
  { name: 'ls', group: 'volume', topLevel: false, load: async () => (await import('./commands/volume/ls.ts')).volumeLsCommand },
  { name: 'inspect', group: 'volume', topLevel: false, load: async () => (await import('./commands/volume/inspect.ts')).volumeInspectCommand },
  { name: 'rm', group: 'volume', topLevel: false, load: async () => (await import('./commands/volume/rm.ts')).volumeRmCommand },
  { name: 'prune', group: 'volume', topLevel: false, load: async () => (await import('./commands/volume/prune.ts')).volumePruneCommand },
  { name: 'create', group: 'network', topLevel: false, load: async () => (await import('./commands/network/create.ts')).networkCreateCommand },
  { name: 'ls', group: 'network', groupAlias: 'list', topLevel: false, load: async () => (await import('./commands/network/ls.ts')).networkLsCommand },
  { name: 'inspect', group: 'network', topLevel: false, load: async () => (await import('./commands/network/inspect.ts')).networkInspectCommand },
  { name: 'rm', group: 'network', groupAlias: 'remove', topLevel: false, load: async () => (await import('./commands/network/rm.ts')).networkRmCommand },
  { name: 'prune', group: 'network', topLevel: false, load: async () => (await import('./commands/network/prune.ts')).networkPruneCommand },
  { name: 'connect', group: 'network', topLevel: false, load: async () => (await import('./commands/network/connect.ts')).networkConnectCommand },
  { name: 'disconnect', group: 'network', topLevel: false, load: async () => (await import('./commands/network/connect.ts')).networkDisconnectCommand },
  { name: 'context', group: 'none', load: async () => (await import('./commands/context/context.ts')).contextCommand },
  { name: 'tls', group: 'none', load: async () => (await import('./commands/tls/init.ts')).tlsCommand },
  { name: 'dial-stdio', group: 'system', topLevel: false, load: async () => (await import('./commands/system/dial-stdio.ts')).dialStdioCommand },
  { name: 'compose', group: 'none', load: async () => (await import('./commands/compose/compose.ts')).composeCommand },
  { name: 'dashboard', group: 'none', load: async () => (await import('./commands/dashboard/dashboard.ts')).dashboardCommand },
  { name: 'port', group: 'container', load: async () => (await import('./commands/container/port.ts')).portCommand },
]

/** Every command, loaded: for the global help and tests. */
export const loadCommands = (): Promise<Command[]> => Promise.all(commandEntries.map((e) => e.load()))

const globalUsage = async (): Promise<string> => {
  const commands = await loadCommands()
  return `Usage:  cais [OPTIONS] COMMAND

A container platform that speaks Docker's Engine API

Options:
  -c, --context string  Name of the context to use to connect to the daemon (default: $CAIS_CONTEXT, $DOCKER_CONTEXT,
                        config.json's currentContext)
  -H, --host string     Daemon socket to connect to: unix://, tcp:// or ssh://USER@HOST (default: $CAIS_HOST,
                        $DOCKER_HOST, unix:///run/cais/cais.sock)
      --tls             Use TLS; implied by --tlsverify ($DOCKER_TLS)
      --tlscacert string  Trust certs signed only by this CA (default $DOCKER_CERT_PATH/ca.pem, else ~/.cais/ca.pem)
      --tlscert string  Path to TLS certificate file (default .../cert.pem)
      --tlskey string   Path to TLS key file (default .../key.pem)
      --tlsverify       Use TLS and verify the remote ($DOCKER_TLS_VERIFY)
  -v, --version       Print version information and quit

Commands:
${commands.filter((c) => c.topLevel !== false).map((c) => `  ${c.name.padEnd(10)}${c.description}`).join('\n')}

Management commands:
  builder    Manage builds
  container  Manage containers
  image      Manage images
  network    Manage networks
  node       List the nodes of the cluster store
  system     Manage cais
  volume     Manage volumes

Run 'cais COMMAND --help' for more information on a command.`
}

async function findCommand(args: string[]): Promise<{ command: Command; rest: string[]; path: string } | undefined> {
  const [first, second, ...others] = args
  if (first === 'container' || first === 'image' || first === 'system' || first === 'volume' || first === 'network' || first === 'builder' || first === 'node') {
    const e = commandEntries.find((x) => x.group === first && (x.name === second || x.groupAlias === second))
    return e && { command: await e.load(), rest: others, path: `${first} ${second}` }
  }
  const e = commandEntries.find((x) => x.name === first && x.topLevel !== false)
  return e && { command: await e.load(), rest: args.slice(1), path: first! }
}

function commandHelp(c: Command): string {
  const flags = c.flags.map((f) => `  ${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.type === 'bool' ? '' : f.type === 'list' ? ' list' : ' string'}`)
  return `Usage:  ${c.usage}\n\n${c.description}\n${flags.length > 0 ? `\nOptions:\n${flags.join('\n')}\n` : ''}`
}

export async function main(argv: string[], io: Io): Promise<number> {
  const connection: ConnectionFlags = { tls: false, tlsVerify: false }
  let i = 0
  for (; i < argv.length; i++) {
    const a = argv[i]!
    const eq = a.indexOf('=')
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a
    const value = (): string | undefined => (a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : argv[++i])
    const flagBool = (): boolean => !(a.startsWith('--') && eq > 0 && ['false', '0'].includes(a.slice(eq + 1)))
    if (name === '-H' || name === '--host') connection.host = value()
    else if (name === '-c' || name === '--context') connection.context = value()
    else if (name === '--tls') connection.tls = flagBool()
    else if (name === '--tlsverify') connection.tlsVerify = flagBool()
    else if (name === '--tlscacert') connection.tlsCaCert = value()
    else if (name === '--tlscert') connection.tlsCert = value()
    else if (name === '--tlskey') connection.tlsKey = value()
    else if (a === '-v' || a === '--version') {
      io.out('cais version 0.1.0')
      return 0
    } else if (a === '-h' || a === '--help') {
      io.out(await globalUsage())
      return 0
    } else if (a === '-D' || a === '--debug') continue
    else break
  }
  const args = argv.slice(i)
  if (args.length === 0) {
    io.out(await globalUsage())
    return 0
  }
  const found = await findCommand(args)
  if (!found) {
    io.err(`cais: unknown command: cais ${args.slice(0, 2).join(' ')}\n\nRun 'cais --help' for more information`)
    return 1
  }
  const { command, rest, path } = found
  if (rest.includes('--help') && (command.interspersed !== false || rest.indexOf('--help') < rest.findIndex((a) => !a.startsWith('-')))) {
    io.out(commandHelp(command))
    return 0
  }
  let parsed
  try {
    parsed = parseFlags(rest, command.flags, { interspersed: command.interspersed ?? true })
    const n = parsed.args.length
    if (command.minArgs !== undefined && n < command.minArgs) {
      throw new UsageError(`"cais ${path}" requires at least ${command.minArgs} argument${command.minArgs === 1 ? '' : 's'}.`)
    }
    if (command.maxArgs !== undefined && n > command.maxArgs) {
      throw new UsageError(
        command.maxArgs === 0 ? `"cais ${path}" accepts no arguments.` : `"cais ${path}" requires at most ${command.maxArgs} argument${command.maxArgs === 1 ? '' : 's'}.`,
      )
    }
  } catch (err) {
    io.err(`${(err as Error).message}\nSee 'cais ${path} --help'.\n\nUsage:  ${command.usage}\n\n${command.description}`)
    return command.errorStatus ?? 1
  }
  let target
  try {
    target = await resolveDaemon(connection)
  } catch (err) {
    // `cais context …` works on the store even when the current context is broken.
    if (path.split(' ')[0] !== 'context') {
      io.err((err as Error).message)
      return 1
    }
    target = { host: defaultHost, context: 'default' }
  }
  const client = new EngineClient({ host: target.host, tls: target.tls, apiVersion: process.env['DOCKER_API_VERSION'] || undefined })
  try {
    return await command.run(client, parsed, io)
  } catch (err) {
    if (command.errorStatus) {
      io.err(`cais: ${describeError(err)}\n\nRun 'cais ${path} --help' for more information`)
      // run sets its own status for a failed start (126, 127); any other failure of run or create is 125.
      return (err as { exitStatus?: number }).exitStatus ?? command.errorStatus
    }
    io.err(describeError(err))
    return (err as { exitStatus?: number }).exitStatus ?? 1
  } finally {
    client.close()
  }
}
