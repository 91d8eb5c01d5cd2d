import { invalid } from '../lib/errors.ts'
import type { RuntimeBinary } from '../runtime/runtime.ts'

/** The OCI runtimes containers may name (`runtimes` in daemon.json, `--add-runtime`) and the default one. */
export interface RuntimeChoices {
  runtimes: Record<string, { path: string; runtimeArgs?: string[] }>
  defaultRuntime: string
}

/** crun, the runtime cais ships with, and `runc`, Docker's default name, which clients send as it is: both mean it. */
export const builtinRuntimes = ['crun', 'runc']

export const defaultRuntimeChoices: RuntimeChoices = { runtimes: {}, defaultRuntime: 'crun' }

/** The runtime a new container gets: the one it names, which must exist, or the daemon's default. */
export function runtimeNameFor(asked: string | undefined, choices: RuntimeChoices): string {
  const name = asked || choices.defaultRuntime
  if (!builtinRuntimes.includes(name) && !(name in choices.runtimes)) throw invalid(`unknown or invalid runtime name: ${name}`)
  return name
}

/** The binary a container's runtime name stands for now; undefined for the built-in crun. */
export function runtimeBinaryOf(name: string | undefined, choices: RuntimeChoices): RuntimeBinary | undefined {
  if (!name || builtinRuntimes.includes(name)) return undefined
  const r = choices.runtimes[name]
  if (!r) throw invalid(`unknown or invalid runtime name: ${name}`)
  return { path: r.path, args: r.runtimeArgs ?? [] }
}
