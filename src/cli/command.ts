import type { EngineClient } from '../client/engine-client.ts'
import type { FlagSpec, ParsedArgs } from './flags.ts'
import type { Io } from './io.ts'

/** One CLI verb: its flags, how many arguments it takes, and what it does through the typed client. */
export interface Command {
  name: string
  /** `container`, `image` or `system`: the verb also answers as `cais <group> <name>`. */
  group: 'builder' | 'container' | 'image' | 'system' | 'volume' | 'network' | 'node' | 'none'
  /** Also reachable as `cais <group> <alias>` (ls for ps, rm for rmi…). */
  groupAlias?: string
  /** false: not reachable at the top level (`cais image ls` only). */
  topLevel?: boolean
  usage: string
  description: string
  flags: FlagSpec[]
  interspersed?: boolean
  minArgs?: number
  maxArgs?: number
  /** Errors from the daemon exit with this status (run/create: 125, as docker). */
  errorStatus?: number
  run(client: EngineClient, p: ParsedArgs, io: Io): Promise<number>
}
