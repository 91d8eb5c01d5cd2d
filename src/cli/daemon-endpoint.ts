import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { defaultHost } from '../client/engine-client.ts'
import type { ClientTls } from '../client/endpoint.ts'
import { configDir } from './config-file.ts'
import { ContextStore } from './context-store.ts'

/** The CLI's global connection flags, as the docker CLI names them. */
export interface ConnectionFlags {
  host?: string | undefined
  context?: string | undefined
  tls: boolean
  tlsVerify: boolean
  tlsCaCert?: string | undefined
  tlsCert?: string | undefined
  tlsKey?: string | undefined
}

export interface DaemonTarget {
  host: string
  tls?: ClientTls | undefined
  /** The context the host came from (`default` for flags and the environment). */
  context: string
}

/**
 * Which daemon to talk to, as the docker CLI decides: `-H`, else `--context`, else CAIS_HOST or DOCKER_HOST, else
 * CAIS_CONTEXT or DOCKER_CONTEXT, else config.json's current context, else the default socket. TLS for a tcp:// host
 * comes from the flags, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, or from the context's own certificates.
 */
export async function resolveDaemon(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Promise<DaemonTarget> {
  if (flags.host && flags.context) throw new Error('conflicting options: either specify --host or --context, not both')
  const store = new ContextStore(env)
  let contextName = flags.context
  if (!flags.host && !contextName && !env['CAIS_HOST'] && !env['DOCKER_HOST']) contextName = env['CAIS_CONTEXT'] || env['DOCKER_CONTEXT'] || (await store.current())
  if (contextName && contextName !== 'default') {
    const ctx = store.get(contextName)
    if (!ctx) throw new Error(`context "${contextName}" does not exist`)
    const t = ctx.endpoint.tls
    return { host: ctx.endpoint.host, context: contextName, ...(t ? { tls: { verify: !ctx.endpoint.skipTLSVerify, ca: t.ca, cert: t.cert, key: t.key } } : {}) }
  }
  const host = flags.host || env['CAIS_HOST'] || env['DOCKER_HOST'] || defaultHost
  return { host, context: 'default', tls: tlsFromFlags(flags, env, host) }
}

function tlsFromFlags(flags: ConnectionFlags, env: NodeJS.ProcessEnv, host: string): ClientTls | undefined {
  const verify = flags.tlsVerify || (env['DOCKER_TLS_VERIFY'] ?? '') !== ''
  const wanted = verify || flags.tls || (env['DOCKER_TLS'] ?? '') !== ''
  if (!wanted || !/^(tcp|https):\/\//.test(host)) return undefined
  const certDir = env['CAIS_CERT_PATH'] || env['DOCKER_CERT_PATH'] || configDir(env)
  const read = (flag: string | undefined, file: string, required: boolean): Buffer | undefined => {
    const path = flag ?? join(certDir, file)
    if (existsSync(path)) return readFileSync(path)
    if (required || flag !== undefined) throw new Error(`could not read ${path}: no such file or directory`)
    return undefined
  }
  return { verify, ca: read(flags.tlsCaCert, 'ca.pem', verify), cert: read(flags.tlsCert, 'cert.pem', false), key: read(flags.tlsKey, 'key.pem', false) }
}
