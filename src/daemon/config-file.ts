import { readFileSync } from 'node:fs'
import { invalid, messageOf } from '../lib/errors.ts'
import { type DaemonConfig, parseDaemonArgs } from './config.ts'

/**
 * caisd's daemon.json (`--config-file`, default /etc/cais/daemon.json): Docker's keys with Docker's names. A key is
 * a flag's long name, or its plural for repeatable flags (`hosts`, `labels`, `insecure-registries`,
 * `default-address-pools`); its value becomes that flag, so the file and the command line mean the same thing.
 * A key set in both places, a key no flag has, or a value of the wrong type is an error, as Docker's.
 */
export const defaultConfigFile = '/etc/cais/daemon.json'

type Kind = 'string' | 'bool' | 'number' | 'list' | 'pools' | 'map' | 'ulimits' | 'runtimes' | 'features'

/** Keys of the file: the flag each one sets and the JSON type it takes. */
const keys: Record<string, { flag: string; kind: Kind }> = {
  'data-root': { flag: '--data-root', kind: 'string' },
  'exec-root': { flag: '--exec-root', kind: 'string' },
  hosts: { flag: '--host', kind: 'list' },
  group: { flag: '--group', kind: 'string' },
  tls: { flag: '--tls', kind: 'bool' },
  tlsverify: { flag: '--tlsverify', kind: 'bool' },
  tlscacert: { flag: '--tlscacert', kind: 'string' },
  tlscert: { flag: '--tlscert', kind: 'string' },
  tlskey: { flag: '--tlskey', kind: 'string' },
  'log-level': { flag: '--log-level', kind: 'string' },
  debug: { flag: '--debug', kind: 'bool' },
  labels: { flag: '--label', kind: 'list' },
  'insecure-registries': { flag: '--insecure-registry', kind: 'list' },
  'registry-mirrors': { flag: '--registry-mirror', kind: 'list' },
  'max-concurrent-downloads': { flag: '--max-concurrent-downloads', kind: 'number' },
  'max-concurrent-uploads': { flag: '--max-concurrent-uploads', kind: 'number' },
  bridge: { flag: '--bridge-name', kind: 'string' },
  bip: { flag: '--bip', kind: 'string' },
  'default-address-pools': { flag: '--default-address-pool', kind: 'pools' },
  // cais's own settings, under their flags' names.
  conmon: { flag: '--conmon', kind: 'string' },
  crun: { flag: '--crun', kind: 'string' },
  'certs-dir': { flag: '--certs-dir', kind: 'string' },
  'iptables-chain-prefix': { flag: '--iptables-chain-prefix', kind: 'string' },
  'overlay-listen': { flag: '--overlay-listen', kind: 'string' },
  'overlay-peers': { flag: '--overlay-peer', kind: 'list' },
  'dashboard-listen': { flag: '--dashboard-listen', kind: 'string' },
  'metrics-addr': { flag: '--metrics-addr', kind: 'string' },
  'audit-peers': { flag: '--audit-peers', kind: 'bool' },
  'cluster-store': { flag: '--cluster-store', kind: 'string' },
  'cluster-advertise': { flag: '--cluster-advertise', kind: 'string' },
  'cluster-store-opts': { flag: '--cluster-store-opt', kind: 'map' },
  'log-driver': { flag: '--log-driver', kind: 'string' },
  'log-opts': { flag: '--log-opt', kind: 'map' },
  dns: { flag: '--dns', kind: 'list' },
  'dns-search': { flag: '--dns-search', kind: 'list' },
  'dns-opts': { flag: '--dns-opt', kind: 'list' },
  'default-ulimits': { flag: '--default-ulimit', kind: 'ulimits' },
  'default-shm-size': { flag: '--default-shm-size', kind: 'string' },
  'no-new-privileges': { flag: '--no-new-privileges', kind: 'bool' },
  'seccomp-profile': { flag: '--seccomp-profile', kind: 'string' },
  iptables: { flag: '--iptables', kind: 'bool' },
  ipv6: { flag: '--ipv6', kind: 'bool' },
  'userland-proxy': { flag: '--userland-proxy', kind: 'bool' },
  features: { flag: '--feature', kind: 'features' },
  'shutdown-timeout': { flag: '--shutdown-timeout', kind: 'number' },
  'fixed-cidr-v6': { flag: '--fixed-cidr-v6', kind: 'string' },
  runtimes: { flag: '--add-runtime', kind: 'runtimes' },
  'default-runtime': { flag: '--default-runtime', kind: 'string' },
  ip6tables: { flag: '--ip6tables', kind: 'bool' },
  'dashboard-password-file': { flag: '--dashboard-password-file', kind: 'string' },
}

/** Other spellings of the same flags on the command line, for the both-places check. */
const flagAliases: Record<string, string> = { '--root': '--data-root', '-H': '--host', '-G': '--group', '-l': '--log-level', '-D': '--debug', '--bridge': '--bridge-name' }

export interface LoadedConfig {
  config: DaemonConfig
  /** The file read, when there was one. */
  file: string | undefined
  validateOnly: boolean
}

/** Flags and the config file together: the config caisd runs with. */
export function loadDaemonConfig(argv: readonly string[]): LoadedConfig | 'help' {
  const { rest, file, explicit, validateOnly } = takeFileFlags(argv)
  let fromFile: string[] = []
  let read: string | undefined
  let text: string | undefined
  try {
    text = readFileSync(file, 'utf8')
    read = file
  } catch (err) {
    if (explicit || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw invalid(`unable to configure the cais daemon with file ${file}: ${messageOf(err)}`)
  }
  if (text !== undefined && text.trim() !== '') {
    try {
      fromFile = fileArgs(parseJsonNamingLine(text), rest)
    } catch (err) {
      throw invalid(`unable to configure the cais daemon with file ${file}: ${(err as Error).message}`)
    }
  }
  const config = parseDaemonArgs([...fromFile, ...rest])
  if (config === 'help') return 'help'
  return { config, file: read, validateOnly }
}

/** `--config-file` and `--validate` are for this module: the rest goes to the flag parser. */
function takeFileFlags(argv: readonly string[]): { rest: string[]; file: string; explicit: boolean; validateOnly: boolean } {
  const rest: string[] = []
  let file = defaultConfigFile
  let explicit = false
  let validateOnly = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--config-file') {
      const v = argv[++i]
      if (v === undefined) throw invalid('flag needs an argument: --config-file')
      file = v
      explicit = true
    } else if (a.startsWith('--config-file=')) {
      file = a.slice('--config-file='.length)
      explicit = true
    } else if (a === '--validate') validateOnly = true
    else rest.push(a)
  }
  return { rest, file, explicit, validateOnly }
}

/** JSON.parse, with the line and column of a syntax error (V8's messages no longer carry a position). */
function parseJsonNamingLine(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    const at = jsonErrorOffset(text)
    const before = text.slice(0, at)
    const line = before.split('\n').length
    const column = at - before.lastIndexOf('\n')
    const found = at < text.length ? `unexpected ${JSON.stringify(text[at])}` : 'unexpected end of file'
    throw new Error(`invalid JSON: ${found} at line ${line}, column ${column}`, { cause: err })
  }
}

/** Where a JSON text stops being valid: a scanner that checks the grammar and nothing else. */
export function jsonErrorOffset(text: string): number {
  let i = 0
  const fail = (at = i): never => {
    throw new JsonStop(at)
  }
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++
  }
  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) fail()
      i++
    }
  }
  const string = (): void => {
    i++
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') {
        i++
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) fail(i + k)
          i += 4
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail()
        i++
      } else if (text.charCodeAt(i) < 0x20) fail()
      else i++
    }
    if (i >= text.length) fail()
    i++
  }
  const value = (): void => {
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      ws()
      if (text[i] === '}') return void i++
      for (;;) {
        ws()
        if (text[i] !== '"') fail()
        string()
        ws()
        if (text[i] !== ':') fail()
        i++
        value()
        ws()
        if (text[i] === ',') i++
        else if (text[i] === '}') return void i++
        else fail()
      }
    } else if (c === '[') {
      i++
      ws()
      if (text[i] === ']') return void i++
      for (;;) {
        value()
        ws()
        if (text[i] === ',') i++
        else if (text[i] === ']') return void i++
        else fail()
      }
    } else if (c === '"') string()
    else if (c === 't') literal('true')
    else if (c === 'f') literal('false')
    else if (c === 'n') literal('null')
    else {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))
      if (!m) return fail()
      i += m[0].length
    }
  }
  try {
    value()
    ws()
    if (i < text.length) fail()
  } catch (err) {
    if (err instanceof JsonStop) return err.at
    throw err
  }
  return text.length
}

class JsonStop extends Error {
  readonly at: number
  constructor(at: number) {
    super(`invalid JSON at ${at}`)
    this.at = at
  }
}

/** The flags a file's keys stand for; refuses unknown keys, wrong types and keys also given as flags. */
function fileArgs(value: unknown, argv: readonly string[]): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('the file must hold a JSON object')
  const entries = Object.entries(value as Record<string, unknown>)
  const unknown = entries.filter(([k]) => !(k in keys)).map(([k]) => k)
  if (unknown.length > 0) throw new Error(`the following directives don't match any configuration option: ${unknown.join(', ')}`)
  const given = flagsGiven(argv)
  const both = entries.filter(([k]) => given.has(keys[k]!.flag)).map(([k, v]) => `${k}: (from flag: ${given.get(keys[k]!.flag)!.join(', ')}, from file: ${JSON.stringify(v)})`)
  if (both.length > 0) throw new Error(`the following directives are specified both as a flag and in the configuration file: ${both.join(', ')}`)
  const out: string[] = []
  for (const [key, v] of entries) {
    const { flag, kind } = keys[key]!
    const wrong = (expected: string): Error => new Error(`${key} must be ${expected}, not ${JSON.stringify(v)}`)
    switch (kind) {
      case 'string':
        if (typeof v !== 'string') throw wrong('a string')
        out.push(`${flag}=${v}`)
        break
      case 'bool':
        if (typeof v !== 'boolean') throw wrong('true or false')
        out.push(`${flag}=${v}`)
        break
      case 'number':
        if (typeof v !== 'number' || !Number.isInteger(v)) throw wrong('an integer')
        out.push(`${flag}=${v}`)
        break
      case 'list':
        if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw wrong('a list of strings')
        for (const x of v as string[]) out.push(`${flag}=${x}`)
        break
      case 'map':
        if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) throw wrong('an object of strings')
        for (const [k, x] of Object.entries(v as Record<string, string>)) out.push(`${flag}=${k}=${x}`)
        break
      case 'features':
        if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'boolean')) throw wrong('an object of true or false')
        for (const [name, on] of Object.entries(v as Record<string, boolean>)) out.push(`${flag}=${name}=${on}`)
        break
      case 'runtimes':
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw wrong('an object of {"path": PATH, "runtimeArgs": [ARG, …]}')
        for (const [name, r] of Object.entries(v as Record<string, { path?: unknown; runtimeArgs?: unknown }>)) {
          if (typeof r !== 'object' || r === null || typeof r.path !== 'string') throw wrong('an object of {"path": PATH, "runtimeArgs": [ARG, …]}')
          if (r.runtimeArgs !== undefined && (!Array.isArray(r.runtimeArgs) || r.runtimeArgs.some((a) => typeof a !== 'string'))) throw wrong('an object of {"path": PATH, "runtimeArgs": [ARG, …]}')
          out.push(`${flag}=${name}=${r.path}`, ...((r.runtimeArgs as string[] | undefined) ?? []).map((a) => `--runtime-arg=${name}=${a}`))
        }
        break
      case 'ulimits':
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw wrong('an object of {"Name": name, "Soft": n, "Hard": n}')
        for (const [name, u] of Object.entries(v as Record<string, { Name?: unknown; Soft?: unknown; Hard?: unknown }>)) {
          if (typeof u !== 'object' || u === null || typeof u.Soft !== 'number' || typeof u.Hard !== 'number') throw wrong('an object of {"Name": name, "Soft": n, "Hard": n}')
          out.push(`${flag}=${typeof u.Name === 'string' ? u.Name : name}=${u.Soft}:${u.Hard}`)
        }
        break
      case 'pools':
        if (!Array.isArray(v)) throw wrong('a list of {"base": CIDR, "size": prefix length}')
        for (const p of v as Array<{ base?: unknown; size?: unknown }>) {
          if (typeof p !== 'object' || p === null || typeof p.base !== 'string' || typeof p.size !== 'number') throw wrong('a list of {"base": CIDR, "size": prefix length}')
          out.push(`${flag}=base=${p.base},size=${p.size}`)
        }
        break
    }
  }
  return out
}

/** The long flags given on the command line (aliases to their long name), with their values. */
function flagsGiven(argv: readonly string[]): Map<string, string[]> {
  const given = new Map<string, string[]>()
  const boolFlags = new Set([...Object.values(keys).filter((k) => k.kind === 'bool').map((k) => k.flag), '--unauthenticated-tcp-gives-root-to-anyone', '--help', '-h'])
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('-')) continue
    const eq = a.indexOf('=')
    const raw = eq > 0 ? a.slice(0, eq) : a
    const name = flagAliases[raw] ?? raw
    const value = eq > 0 ? a.slice(eq + 1) : boolFlags.has(name) ? 'true' : (argv[++i] ?? '')
    given.set(name, [...(given.get(name) ?? []), value])
  }
  return given
}
