/** A flag of one command, as pflag knows it: `--name`, optional `-n`, a bool, a string, or a repeatable list. */
export interface FlagSpec {
  name: string
  short?: string
  type: 'bool' | 'string' | 'list'
}

export interface ParsedArgs {
  flags: Map<string, string | boolean | string[]>
  args: string[]
}

export class UsageError extends Error {}

/**
 * Parses argv for one command. With `interspersed: false` (run, exec) parsing stops at the first
 * positional argument: everything after the image is the container's command.
 */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[], opts: { interspersed?: boolean } = {}): ParsedArgs {
  const flags = new Map<string, string | boolean | string[]>()
  const args: string[] = []
  const byName = new Map(specs.map((s) => [s.name, s]))
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]))
  const set = (spec: FlagSpec, value: string | boolean): void => {
    if (spec.type === 'list') flags.set(spec.name, [...((flags.get(spec.name) as string[] | undefined) ?? []), String(value)])
    else flags.set(spec.name, value)
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') {
      args.push(...argv.slice(i + 1))
      break
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2)
      const spec = byName.get(name)
      if (!spec) throw new UsageError(`unknown flag: --${name}`)
      if (spec.type === 'bool') set(spec, eq > 0 ? !['false', '0'].includes(a.slice(eq + 1)) : true)
      else if (eq > 0) set(spec, a.slice(eq + 1))
      else {
        const v = argv[++i]
        if (v === undefined) throw new UsageError(`flag needs an argument: --${name}`)
        set(spec, v)
      }
      continue
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const spec = byShort.get(a[j]!)
        if (!spec) throw new UsageError(`unknown shorthand flag: '${a[j]}' in ${a}`)
        if (spec.type === 'bool') {
          set(spec, true)
          continue
        }
        const rest = a.slice(j + 1).replace(/^=/, '')
        if (rest) set(spec, rest)
        else {
          const v = argv[++i]
          if (v === undefined) throw new UsageError(`flag needs an argument: '${a[j]}' in ${a}`)
          set(spec, v)
        }
        break
      }
      continue
    }
    if (opts.interspersed === false) {
      args.push(...argv.slice(i))
      break
    }
    args.push(a)
  }
  return { flags, args }
}

export const str = (p: ParsedArgs, name: string): string | undefined => p.flags.get(name) as string | undefined
export const bool = (p: ParsedArgs, name: string): boolean => p.flags.get(name) === true
export const list = (p: ParsedArgs, name: string): string[] => (p.flags.get(name) as string[] | undefined) ?? []
