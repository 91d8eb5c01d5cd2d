import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, chown, mkdir, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { dirname } from 'node:path'
import { type ApiServer, serverLimits } from '../api/server.ts'
import { invalid } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import type { DaemonConfig } from './config.ts'

/** What the daemon listens on, to close at shutdown. */
export interface Listeners {
  socketPaths: string[]
}

/**
 * Opens every `-H` address: unix sockets (0660, owner root, group `--group`), TCP (with TLS, client certificates
 * required under `--tlsverify`), and sockets systemd passed (`fd://`, socket activation).
 */
export async function openListeners(api: ApiServer, config: DaemonConfig, log: Logger): Promise<Listeners> {
  const socketPaths: string[] = []
  for (const host of config.hosts) {
    if (host.startsWith('unix://')) {
      const socketPath = host.slice('unix://'.length)
      await mkdir(dirname(socketPath), { recursive: true })
      await rm(socketPath, { force: true })
      await listenOn(api.createServer(), socketPath)
      await chmod(socketPath, 0o660)
      const gid = groupId(config.group)
      if (gid !== undefined) await chown(socketPath, 0, gid)
      else if (config.group !== 'cais') log.warn('socket group not found; the socket stays root-only', { group: config.group })
      socketPaths.push(socketPath)
      log.info('API listen on', { socket: socketPath })
    } else if (host.startsWith('tcp://')) {
      const { hostname, port } = new URL(host.replace(/^tcp:/, 'http:'))
      const address = hostname.replace(/^\[|\]$/g, '') || '0.0.0.0'
      const server = config.tls.enabled ? api.serve(tlsServer(config)) : api.createServer()
      if (!config.tls.enabled) log.warn('API listening on TCP without TLS: anyone who can reach it has root on this machine', { host })
      await listenOn(server, { host: address, port: Number(port) })
      log.info('API listen on', { tcp: `${address}:${port}`, tls: config.tls.enabled, verifyClients: config.tls.verify })
    } else {
      for (const fd of activatedFds(host)) {
        await listenOn(api.createServer(), { fd })
        log.info('API listen on', { fd })
      }
    }
  }
  return { socketPaths }
}

function tlsServer(config: DaemonConfig): Server {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path)
    } catch (err) {
      throw invalid(`could not read ${what} ${path}: ${err instanceof Error && 'code' in err && err.code === 'ENOENT' ? 'no such file or directory' : String(err)}`)
    }
  }
  return createHttpsServer({
    key: read('TLS key', config.tls.key),
    cert: read('TLS certificate', config.tls.cert),
    ...(config.tls.verify ? { ca: read('CA certificate', config.tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
    minVersion: 'TLSv1.2',
    maxHeaderSize: serverLimits.maxHeaderBytes,
    connectionsCheckingInterval: serverLimits.checkEveryMs,
  })
}

/** The sockets systemd handed over (LISTEN_FDS from fd 3), all for `fd://`, one for `fd://N`. */
export function activatedFds(host: string): number[] {
  const count = Number(process.env['LISTEN_FDS'] ?? '0')
  const pid = process.env['LISTEN_PID']
  if (count === 0 || (pid !== undefined && Number(pid) !== process.pid)) throw invalid(`no sockets found via socket activation: make sure the service was started by systemd (${host})`)
  const fds = Array.from({ length: count }, (_, i) => 3 + i)
  const wanted = host.slice('fd://'.length)
  if (wanted === '') return fds
  if (!fds.includes(Number(wanted))) throw invalid(`too few sockets passed by socket activation for ${host}`)
  return [Number(wanted)]
}

function listenOn(server: Server, where: string | { host: string; port: number } | { fd: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    const done = (): void => {
      server.off('error', reject)
      resolve()
    }
    if (typeof where === 'string') server.listen(where, done)
    else server.listen(where, done)
  })
}

function groupId(name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name)
  try {
    const out = execFileSync('getent', ['group', name], { encoding: 'utf8' })
    const gid = Number(out.split(':')[2])
    return Number.isInteger(gid) ? gid : undefined
  } catch {
    return undefined
  }
}
