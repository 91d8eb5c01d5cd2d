import { enableCompileCache } from 'node:module'
import { EngineClient, hostFromEnv } from '../client/engine-client.ts'
import type { Command } from './command.ts'
import { attachCommand } from './commands/container/attach.ts'
import { commitCommand } from './commands/container/commit.ts'
import { createCommand } from './commands/container/create.ts'
import { cpCommand } from './commands/container/cp.ts'
import { exportCommand } from './commands/container/export.ts'
import { diffCommand } from './commands/container/diff.ts'
import { execCommand } from './commands/container/exec.ts'
import { containerPruneCommand } from './commands/container/prune.ts'
import { topCommand } from './commands/container/top.ts'
import { pauseCommand } from './commands/container/pause.ts'
import { renameCommand } from './commands/container/rename.ts'
import { unpauseCommand } from './commands/container/unpause.ts'
import { inspectCommand } from './commands/container/inspect.ts'
import { killCommand } from './commands/container/kill.ts'
import { logsCommand } from './commands/container/logs.ts'
import { psCommand } from './commands/container/ps.ts'
import { restartCommand } from './commands/container/restart.ts'
import { rmCommand } from './commands/container/rm.ts'
import { runCommand } from './commands/container/run.ts'
import { startCommand } from './commands/container/start.ts'
import { statsCommand } from './commands/container/stats.ts'
import { updateCommand } from './commands/container/update.ts'
import { stopCommand } from './commands/container/stop.ts'
import { waitCommand } from './commands/container/wait.ts'
import { historyCommand } from './commands/image/history.ts'
import { imagesCommand } from './commands/image/images.ts'
import { importCommand } from './commands/image/import.ts'
import { loadCommand } from './commands/image/load.ts'
import { imagePruneCommand } from './commands/image/prune.ts'
import { pullCommand } from './commands/image/pull.ts'
import { pushCommand } from './commands/image/push.ts'
import { loginCommand } from './commands/registry/login.ts'
import { logoutCommand } from './commands/registry/logout.ts'
import { searchCommand } from './commands/registry/search.ts'
import { rmiCommand } from './commands/image/rmi.ts'
import { saveCommand } from './commands/image/save.ts'
import { tagCommand } from './commands/image/tag.ts'
import { dfCommand } from './commands/system/df.ts'
import { eventsCommand } from './commands/system/events.ts'
import { infoCommand } from './commands/system/info.ts'
import { versionCommand } from './commands/system/version.ts'
import { volumeCreateCommand } from './commands/volume/create.ts'
import { volumeInspectCommand } from './commands/volume/inspect.ts'
import { volumeLsCommand } from './commands/volume/ls.ts'
import { volumePruneCommand } from './commands/volume/prune.ts'
import { volumeRmCommand } from './commands/volume/rm.ts'
import { networkConnectCommand, networkDisconnectCommand } from './commands/network/connect.ts'
import { networkCreateCommand } from './commands/network/create.ts'
import { networkInspectCommand } from './commands/network/inspect.ts'
import { networkLsCommand } from './commands/network/ls.ts'
import { networkPruneCommand } from './commands/network/prune.ts'
import { networkRmCommand } from './commands/network/rm.ts'
import { portCommand } from './commands/container/port.ts'
import { describeError } from './errors.ts'
import { UsageError, parseFlags } from './flags.ts'
import { type Io, processIo } from './io.ts'

enableCompileCache?.()

/** Every verb, listed explicitly; each answers as `cais <verb>` and as `cais <group> <verb>`. */
export const commands: Command[] = [
  runCommand, createCommand, startCommand, attachCommand, stopCommand, restartCommand, killCommand, rmCommand, waitCommand, psCommand,
  logsCommand, inspectCommand, execCommand, pauseCommand, unpauseCommand, renameCommand, topCommand, diffCommand, containerPruneCommand, commitCommand, exportCommand, cpCommand, statsCommand, updateCommand, imagesCommand, historyCommand, importCommand, loadCommand, saveCommand, tagCommand, rmiCommand, imagePruneCommand, pullCommand, pushCommand,
  loginCommand, logoutCommand, searchCommand,
  versionCommand, infoCommand, dfCommand, eventsCommand, volumeCreateCommand, volumeLsCommand, volumeInspectCommand, volumeRmCommand, volumePruneCommand,
  networkCreateCommand, networkLsCommand, networkInspectCommand, networkRmCommand, networkPruneCommand, networkConnectCommand, networkDisconnectCommand, portCommand,
]

const globalUsage = `Usage:  cais [OPTIONS] COMMAND

A container platform that speaks Docker's Engine API

Options:
  -H, --host string   Daemon socket to connect to (default: $CAIS_HOST, $DOCKER_HOST, unix:///run/cais/cais.sock)
  -v, --version       Print version information and quit

Commands:
${commands.filter((c) => c.topLevel !== false).map((c) => `  ${c.name.padEnd(10)}${c.description}`).join('\n')}

Management commands:
  container  Manage containers
  image      Manage images
  network    Manage networks
  system     Manage cais
  volume     Manage volumes

Run 'cais COMMAND --help' for more information on a command.`

function findCommand(args: string[]): { command: Command; rest: string[]; path: string } | undefined {
  const [first, second, ...others] = args
  if (first === 'container' || first === 'image' || first === 'system' || first === 'volume' || first === 'network') {
    const c = commands.find((x) => x.group === first && (x.name === second || x.groupAlias === second))
    return c && { command: c, rest: others, path: `${first} ${second}` }
  }
  const c = commands.find((x) => x.name === first && x.topLevel !== false)
  return c && { command: c, rest: args.slice(1), path: first! }
}

function commandHelp(c: Command): string {
  const flags = c.flags.map((f) => `  ${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.type === 'bool' ? '' : f.type === 'list' ? ' list' : ' string'}`)
  return `Usage:  ${c.usage}\n\n${c.description}\n${flags.length > 0 ? `\nOptions:\n${flags.join('\n')}\n` : ''}`
}

export async function main(argv: string[], io: Io): Promise<number> {
  let host: string | undefined
  let i = 0
  for (; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '-H' || a === '--host') host = argv[++i]
    else if (a.startsWith('--host=')) host = a.slice('--host='.length)
    else if (a === '-v' || a === '--version') {
      io.out('cais version 0.1.0')
      return 0
    } else if (a === '-h' || a === '--help') {
      io.out(globalUsage)
      return 0
    } else if (a === '-D' || a === '--debug') continue
    else break
  }
  const args = argv.slice(i)
  if (args.length === 0) {
    io.out(globalUsage)
    return 0
  }
  const found = findCommand(args)
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
  const client = new EngineClient({ host: hostFromEnv(host) })
  try {
    return await command.run(client, parsed, io)
  } catch (err) {
    if (command.errorStatus) {
      io.err(`cais: ${describeError(err)}\n\nRun 'cais ${path} --help' for more information`)
      // run sets its own status for a failed start (126, 127); any other failure of run or create is 125.
      return (err as { exitStatus?: number }).exitStatus ?? command.errorStatus
    }
    io.err(describeError(err))
    return 1
  } finally {
    client.close()
  }
}

const isMain = process.argv[1] !== undefined && import.meta.filename === (await import('node:fs')).realpathSync(process.argv[1])
if (isMain) {
  const code = await main(process.argv.slice(2), processIo())
  process.exitCode = code
}
