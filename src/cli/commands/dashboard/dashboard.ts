import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { parseRules } from '../../../dashboard/alerts.ts'
import { EngineClient } from '../../../client/engine-client.ts'
import { DashboardServer, type EngineDirectory, defaultAssetsDir, hashPassword, parseListen } from '../../../dashboard/server.ts'
import { ContextStore } from '../../context-store.ts'
import { resolveDaemon } from '../../daemon-endpoint.ts'
import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'

/** The CLI's contexts as the dashboard's engines: `default` (the environment's host) and each stored one. */
function contextEngines(stateDirOf: (host: string) => string): EngineDirectory {
  const store = new ContextStore()
  return {
    async list() {
      const fallback = await resolveDaemon({ context: 'default', tls: false, tlsVerify: false })
      return [{ name: 'default', host: fallback.host, description: 'The host of the environment, or the default socket' }, ...store.list().map((c) => ({ name: c.name, host: c.endpoint.host, description: c.description }))]
    },
    async open(name) {
      const target = await resolveDaemon({ context: name, tls: false, tlsVerify: false })
      const client = new EngineClient({ host: target.host, tls: target.tls, apiVersion: process.env['DOCKER_API_VERSION'] || undefined })
      return { client, engineName: name === 'default' ? target.host : `${name} (${target.host})`, stateDir: stateDirOf(target.host) }
    },
  }
}

/**
 * `cais dashboard`: the engine in a browser. Serves on loopback and prints a URL with a one-time token; runs until
 * interrupted. It drives whichever daemon the CLI talks to (-H, --context), caisd or dockerd alike.
 */
export const dashboardCommand: Command = {
  name: 'dashboard',
  group: 'none',
  usage: 'cais dashboard [OPTIONS]',
  description: 'Open the engine in a browser',
  flags: [
    { name: 'listen', type: 'string' },
    { name: 'open', type: 'bool' },
    { name: 'tlscert', type: 'string' },
    { name: 'tlskey', type: 'string' },
    { name: 'tlscacert', type: 'string' },
    { name: 'password-file', type: 'string' },
    { name: 'allow-host', type: 'list' },
    { name: 'hash-password', type: 'bool' },
    { name: 'state-dir', type: 'string' },
    { name: 'sample-interval', type: 'string' },
    { name: 'alert-rules', type: 'string' },
    { name: 'alert-webhook', type: 'string' },
  ],
  maxArgs: 0,
  async run(client, p, io) {
    if (bool(p, 'hash-password')) {
      // Reads a password on stdin and prints what --password-file holds.
      const chunks: Buffer[] = []
      for await (const c of io.stdin as AsyncIterable<Buffer>) chunks.push(c)
      const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
      if (!password) throw new Error('no password on stdin')
      io.out(hashPassword(password))
      return 0
    }
    const { host, port } = parseListen(str(p, 'listen') ?? '127.0.0.1:0')
    const cert = str(p, 'tlscert')
    const key = str(p, 'tlskey')
    if ((cert === undefined) !== (key === undefined)) throw new Error('--tlscert and --tlskey go together')
    const ca = str(p, 'tlscacert')
    const passwordFile = str(p, 'password-file')
    const interval = str(p, 'sample-interval')
    const intervalSec = interval === undefined ? 10 : Number(interval)
    if (!(intervalSec >= 0.5)) throw new Error(`invalid --sample-interval "${interval}": seconds, at least 0.5`)
    const rulesFile = str(p, 'alert-rules')
    let alertRules
    try {
      alertRules = rulesFile ? parseRules(JSON.parse(await readFile(rulesFile, 'utf8'))) : undefined
    } catch (err) {
      throw new Error(`invalid --alert-rules ${rulesFile}: ${(err as Error).message}`)
    }
    // Each engine keeps its own history and alerts.
    const stateDirOf = (host: string): string => join(process.env['XDG_STATE_HOME'] ?? join(homedir(), '.local', 'state'), 'cais', 'dashboard', host.replace(/[^\w.-]+/g, '_'))
    const stateDir = str(p, 'state-dir') ?? stateDirOf(client.http.host)
    const server = new DashboardServer({
      client,
      engineName: client.http.host,
      host,
      port,
      assetsDir: defaultAssetsDir(),
      tls: cert && key ? { cert: await readFile(cert), key: await readFile(key), ...(ca ? { ca: await readFile(ca) } : {}) } : undefined,
      passwordHash: passwordFile ? await readFile(passwordFile, 'utf8') : undefined,
      extraHosts: list(p, 'allow-host'),
      stateDir,
      sampleIntervalMs: intervalSec * 1000,
      alertRules,
      alertRulesFile: rulesFile,
      alertWebhook: str(p, 'alert-webhook'),
      onError: (err) => io.err(JSON.stringify({ time: new Date().toISOString(), msg: 'dashboard error', err: (err as Error).message ?? String(err) })),
      audit: (entry) => io.err(JSON.stringify({ time: new Date().toISOString(), msg: 'audit', ...entry })),
      engines: contextEngines(stateDirOf),
    })
    const { url } = await server.start()
    io.out(`Dashboard of ${client.http.host} at ${url}`)
    io.out('The link works once; press Ctrl-C to stop.')
    if (bool(p, 'open')) spawn('xdg-open', [url], { stdio: 'ignore', detached: true }).on('error', () => io.err('cannot open a browser: open the URL yourself')).unref()
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve())
      process.once('SIGTERM', () => resolve())
    })
    await server.close()
    return 0
  },
}
