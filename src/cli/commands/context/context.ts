import { createReadStream, createWriteStream, readFileSync } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { defaultHost } from '../../../client/engine-client.ts'
import type { Command } from '../../command.ts'
import { type Context, ContextStore } from '../../context-store.ts'
import { UsageError, bool, str } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'

const store = (): ContextStore => new ContextStore()

/** `--docker host=tcp://…,ca=FILE,cert=FILE,key=FILE,skip-tls-verify=true`, as the docker CLI takes it. */
function endpointOf(spec: string): Context['endpoint'] {
  const fields = new Map(spec.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=') < 0 ? kv.length : kv.indexOf('=')), kv.includes('=') ? kv.slice(kv.indexOf('=') + 1) : '']))
  for (const k of fields.keys()) if (!['host', 'ca', 'cert', 'key', 'skip-tls-verify', 'from'].includes(k)) throw new UsageError(`unrecognized config key: ${k}`)
  const host = fields.get('host')
  if (!host) throw new UsageError('a host is required: --docker host=unix:///path, tcp://HOST:PORT or ssh://USER@HOST')
  const read = (k: string): Buffer | undefined => (fields.get(k) ? readFileSync(fields.get(k)!) : undefined)
  const tls = { ca: read('ca'), cert: read('cert'), key: read('key') }
  return { host, skipTLSVerify: fields.get('skip-tls-verify') === 'true', ...(tls.ca || tls.cert || tls.key ? { tls } : {}) }
}

const usage = `cais context COMMAND

Manage contexts

Commands:
  create      Create a context
  export      Export a context to a tar archive
  import      Import a context from a tar archive
  inspect     Display detailed information on one or more contexts
  ls          List contexts
  rm          Remove one or more contexts
  show        Print the name of the current context
  use         Set the current cais context`

/**
 * `cais context`: named daemons, stored as the docker CLI stores them, so `cais --context NAME` (or `context use`)
 * drives that daemon; one CLI, several daemons.
 */
export const contextCommand: Command = {
  name: 'context',
  group: 'none',
  usage,
  description: 'Manage contexts',
  flags: [
    { name: 'docker', type: 'string' },
    { name: 'description', type: 'string' },
    { name: 'format', type: 'string' },
    { name: 'quiet', short: 'q', type: 'bool' },
    { name: 'force', short: 'f', type: 'bool' },
  ],
  async run(_client, p, io) {
    const [verb, ...args] = p.args
    const s = store()
    const current = process.env['CAIS_CONTEXT'] || process.env['DOCKER_CONTEXT'] || (await s.current())
    switch (verb) {
      case 'create': {
        const [name] = args
        if (!name || args.length !== 1) throw new UsageError('"cais context create" requires exactly 1 argument.')
        if (!ContextStore.validName(name) || name === 'default') throw new Error(`context name "${name}" is invalid, names are validated against regexp "^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$"`)
        if (s.get(name)) throw new Error(`context "${name}" already exists`)
        const spec = str(p, 'docker')
        const endpoint = spec ? endpointOf(spec) : { host: process.env['CAIS_HOST'] || process.env['DOCKER_HOST'] || defaultHost, skipTLSVerify: false }
        await s.save({ name, description: str(p, 'description') ?? '', endpoint })
        io.out(name)
        io.err(`Successfully created context "${name}"`)
        return 0
      }
      case 'ls':
      case 'list': {
        const all = [{ name: 'default', description: 'Current cais instance from the environment or the default socket', endpoint: { host: process.env['CAIS_HOST'] || process.env['DOCKER_HOST'] || defaultHost, skipTLSVerify: false } }, ...s.list()]
        if (bool(p, 'quiet')) for (const c of all) io.out(c.name)
        else if (str(p, 'format') === 'json') for (const c of all) io.out(JSON.stringify({ Current: c.name === current, Description: c.description, DockerEndpoint: c.endpoint.host, Name: c.name }))
        else for (const line of renderTable([['NAME', 'DESCRIPTION', 'DOCKER ENDPOINT'], ...all.map((c) => [`${c.name}${c.name === current ? ' *' : ''}`, c.description, c.endpoint.host])])) io.out(line)
        return 0
      }
      case 'use': {
        const [name] = args
        if (!name) throw new UsageError('"cais context use" requires exactly 1 argument.')
        if (name !== 'default' && !s.get(name)) throw new Error(`context "${name}" does not exist`)
        await s.use(name)
        io.out(name)
        io.err(`Current context is now "${name}"`)
        return 0
      }
      case 'show':
        io.out(current)
        return 0
      case 'inspect': {
        const names = args.length > 0 ? args : [current]
        const out = names.map((name) => {
          const c = s.get(name)
          if (!c) throw new Error(`context "${name}" does not exist`)
          return {
            Name: c.name,
            Metadata: { Description: c.description },
            Endpoints: { docker: { Host: c.endpoint.host, SkipTLSVerify: c.endpoint.skipTLSVerify } },
            TLSMaterial: c.endpoint.tls ? { docker: Object.entries(c.endpoint.tls).filter(([, v]) => v).map(([k]) => `${k}.pem`) } : {},
            Storage: { MetadataPath: '', TLSPath: '' },
          }
        })
        io.out(JSON.stringify(out, null, 4))
        return 0
      }
      case 'rm':
      case 'remove': {
        if (args.length === 0) throw new UsageError('"cais context rm" requires at least 1 argument.')
        for (const name of args) {
          if (name === 'default') throw new Error('default: context "default" cannot be removed')
          if (!s.get(name)) throw new Error(`context "${name}" does not exist`)
          if (name === current && !bool(p, 'force')) throw new Error(`${name}: context is in use, set -f flag to force remove`)
          await s.remove(name)
          if (name === current) await s.use('default')
          io.out(name)
        }
        return 0
      }
      case 'export': {
        const [name, file] = args
        if (!name) throw new UsageError('"cais context export" requires at least 1 argument.')
        if (!s.get(name)) throw new Error(`context "${name}" does not exist`)
        const target = file ?? `${name}.dockercontext`
        await pipeline(await s.export(name), target === '-' ? io.stdout : createWriteStream(target, { mode: 0o600 }), ...(target === '-' ? [{ end: false }] : []))
        if (target !== '-') io.err(`Written file "${target}"`)
        return 0
      }
      case 'import': {
        const [name, file] = args
        if (!name || !file) throw new UsageError('"cais context import" requires exactly 2 arguments.')
        if (!ContextStore.validName(name) || name === 'default') throw new Error(`context name "${name}" is invalid`)
        if (s.get(name)) throw new Error(`context "${name}" already exists`)
        await s.import(name, file === '-' ? io.stdin : createReadStream(file))
        io.out(name)
        io.err(`Successfully imported context "${name}"`)
        return 0
      }
      default:
        throw new UsageError(verb ? `unknown context command: ${verb}` : usage)
    }
  },
}
