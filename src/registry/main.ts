// cais-registry: the OCI distribution registry server, a process of its own (it needs no caisd), and its garbage
// collector.
//
//   cais registry serve [--addr HOST:PORT] [--root DIR]
//   cais registry gc [--root DIR] [--dry-run] [--delete-untagged] [--grace DURATION]
import { readFileSync } from 'node:fs'
import { flushCompileCache } from 'node:module'
import { parseGoDuration } from '../lib/time.ts'
import { type AccessRule, type Authorizer, anonymous } from './auth.ts'
import { collectGarbage } from './gc.ts'
import { UpstreamCache } from './proxy.ts'
import { RegistryMetrics, createRegistryServer } from './server.ts'
import { FilesystemStorage } from './storage.ts'

const usage = `Usage:	cais registry COMMAND [OPTIONS]

An OCI distribution registry: push and pull with any Docker or OCI client

Commands:
  serve   Serve the registry
  gc      Delete the blobs no manifest references (mark and sweep)

Options:
      --config string     serve: a YAML file of the settings below (addr, root, tls, auth, access); flags win
      --addr string       serve: address to listen on (default "127.0.0.1:5000")
      --tls-cert string   serve: certificate (PEM) for HTTPS
      --tls-key string    serve: its key
      --htpasswd string   serve: Basic auth against this htpasswd file (bcrypt: htpasswd -B)
      --realm string      serve: the realm Basic auth names (default "cais-registry")
      --proxy string      serve: be a pull-through cache of this registry (docker.io for Docker Hub, or a URL)
      --proxy-username string  serve: the upstream's user (password in $CAIS_REGISTRY_PROXY_PASSWORD)
      --root string       Directory of the registry's blobs, manifests, tags and uploads (default "/var/lib/cais-registry")
      --dry-run           gc: say what would be deleted, delete nothing
      --delete-untagged   gc: delete manifests no tag reaches first (their referrers stay with the kept ones)
      --grace duration    gc: keep blobs written this recently, which a push may not have referenced yet (default 10m)
  -h, --help              Print usage
`

interface Options {
  command: 'serve' | 'gc'
  addr: string
  root: string
  tlsCert?: string
  tlsKey?: string
  htpasswd?: string
  realm: string
  access: AccessRule[]
  proxy?: string
  proxyUsername?: string
  token?: { realm: string; service: string; issuer: string; rootcertbundle: string; issue?: { key: string; certificate: string; htpasswd: string } }
  dryRun: boolean
  deleteUntagged: boolean
  graceMs: number
}

async function parseArgs(argv: string[]): Promise<Options | 'help'> {
  const [command = 'serve', ...args] = argv
  if (command === '-h' || command === '--help') return 'help'
  if (command !== 'serve' && command !== 'gc') throw new Error(`unknown registry command: ${command}`)
  const out: Options = { command, addr: '127.0.0.1:5000', root: '/var/lib/cais-registry', realm: 'cais-registry', access: [], dryRun: false, deleteUntagged: false, graceMs: 600_000 }
  const configAt = args.findIndex((a) => a === '--config' || a.startsWith('--config='))
  if (configAt >= 0) await applyConfig(out, args[configAt]!.includes('=') ? args[configAt]!.slice('--config='.length) : (args[configAt + 1] ?? ''))
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.includes('=') ? (args[i]!.split(/=(.*)/s) as [string, string]) : [args[i]!, undefined]
    const value = (): string => {
      const v = inline ?? args[++i]
      if (v === undefined) throw new Error(`flag needs an argument: ${flag}`)
      return v
    }
    if (flag === '--config') value()
    else if (flag === '--addr' && command === 'serve') out.addr = value()
    else if (flag === '--tls-cert' && command === 'serve') out.tlsCert = value()
    else if (flag === '--tls-key' && command === 'serve') out.tlsKey = value()
    else if (flag === '--htpasswd' && command === 'serve') out.htpasswd = value()
    else if (flag === '--realm' && command === 'serve') out.realm = value()
    else if (flag === '--proxy' && command === 'serve') out.proxy = value()
    else if (flag === '--proxy-username' && command === 'serve') out.proxyUsername = value()
    else if (flag === '--root') out.root = value()
    else if (flag === '--dry-run' && command === 'gc') out.dryRun = true
    else if (flag === '--delete-untagged' && command === 'gc') out.deleteUntagged = true
    else if (flag === '--grace' && command === 'gc') {
      const v = value()
      const ms = v === '0' ? 0 : parseGoDuration(v)
      if (ms === undefined) throw new Error(`invalid --grace ${v}: expected a duration such as 10m`)
      out.graceMs = ms
    } else if (flag === '-h' || flag === '--help') return 'help'
    else throw new Error(`unknown flag: ${flag}`)
  }
  if (!/^(\[[0-9a-fA-F:]+\]|[^:]*):\d+$/.test(out.addr)) throw new Error(`invalid --addr ${out.addr}: expected HOST:PORT`)
  if ((out.tlsCert === undefined) !== (out.tlsKey === undefined)) throw new Error('TLS needs both a certificate and a key')
  return out
}

/** The config file: `addr`, `root`, `tls: {certificate, key}`, `auth: {htpasswd: {path, realm}}`, `access: [rules]`. */
async function applyConfig(out: Options, path: string): Promise<void> {
  // Loaded only for a config file: a registry at rest keeps its memory for what it serves.
  const { parse: parseYaml } = await import('yaml')
  let doc: Record<string, unknown>
  try {
    doc = (parseYaml(readFileSync(path, 'utf8')) ?? {}) as Record<string, unknown>
  } catch (err) {
    throw new Error(`config ${path}: ${err instanceof Error ? err.message : String(err)}`)
  }
  const known = new Set(['addr', 'root', 'tls', 'auth', 'access', 'proxy'])
  for (const k of Object.keys(doc)) if (!known.has(k)) throw new Error(`config ${path}: unknown key ${k}`)
  if (typeof doc['addr'] === 'string') out.addr = doc['addr']
  if (typeof doc['root'] === 'string') out.root = doc['root']
  const tls = doc['tls'] as { certificate?: string; key?: string } | undefined
  if (tls?.certificate) out.tlsCert = tls.certificate
  if (tls?.key) out.tlsKey = tls.key
  const token = (doc['auth'] as { token?: Options['token'] } | undefined)?.token
  if (token) {
    if (!token.realm || !token.service || !token.issuer || !token.rootcertbundle) throw new Error(`config ${path}: auth.token needs realm, service, issuer and rootcertbundle`)
    if (token.issue && (!token.issue.key || !token.issue.certificate || !token.issue.htpasswd)) throw new Error(`config ${path}: auth.token.issue needs key, certificate and htpasswd`)
    out.token = token
  }
  const htpasswd = (doc['auth'] as { htpasswd?: { path?: string; realm?: string } } | undefined)?.htpasswd
  if (htpasswd?.path) out.htpasswd = htpasswd.path
  if (htpasswd?.realm) out.realm = htpasswd.realm
  const proxy = doc['proxy'] as { remoteurl?: string; username?: string } | undefined
  if (proxy?.remoteurl) out.proxy = proxy.remoteurl
  if (proxy?.username) out.proxyUsername = proxy.username
  for (const [i, r] of ((doc['access'] as Array<Partial<AccessRule>> | undefined) ?? []).entries()) {
    if (!r.user || !r.repository || !Array.isArray(r.actions) || r.actions.some((a) => !['pull', 'push', 'delete'].includes(a))) {
      throw new Error(`config ${path}: access[${i}] needs user, repository and actions (pull, push, delete)`)
    }
    out.access.push({ user: r.user, repository: r.repository, actions: r.actions })
  }
}

const say = (line: string): void => void process.stdout.write(`${line}\n`)

async function serve(opts: Options, storage: FilesystemStorage): Promise<number> {
  const recovered = await storage.recover()
  if (recovered.tempFiles + recovered.uploads > 0) say(JSON.stringify({ time: new Date().toISOString(), msg: 'cleared what an earlier run left', ...recovered }))
  let authorizer: Authorizer = opts.htpasswd ? (await import('./htpasswd.ts')).htpasswdAuthorizer({ path: opts.htpasswd, realm: opts.realm, rules: opts.access }) : anonymous
  let tokenEndpoint
  if (opts.token) {
    const { X509Certificate, createPrivateKey } = await import('node:crypto')
    const { tokenAuthorizer, tokenIssuer } = await import('./token.ts')
    const bundle = readFileSync(opts.token.rootcertbundle, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
    if (bundle.length === 0) throw new Error(`${opts.token.rootcertbundle}: no certificate in it`)
    authorizer = tokenAuthorizer({ realm: opts.token.realm, service: opts.token.service, issuer: opts.token.issuer, rootCerts: bundle.map((pem) => new X509Certificate(pem)) })
    if (opts.token.issue) {
      const { HtpasswdUsers } = await import('./htpasswd.ts')
      tokenEndpoint = tokenIssuer({
        issuer: opts.token.issuer,
        key: createPrivateKey(readFileSync(opts.token.issue.key)),
        cert: new X509Certificate(readFileSync(opts.token.issue.certificate)),
        users: new HtpasswdUsers(opts.token.issue.htpasswd),
        rules: opts.access,
      })
    }
  }
  const tls = opts.tlsCert && opts.tlsKey ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) } : undefined
  const password = process.env['CAIS_REGISTRY_PROXY_PASSWORD']
  const proxy = opts.proxy === undefined ? undefined : new UpstreamCache(opts.proxy, storage, opts.proxyUsername ? { username: opts.proxyUsername, password: password ?? '' } : undefined)
  const server = await createRegistryServer({ storage, authorizer, tls, proxy, tokenEndpoint, metrics: new RegistryMetrics(), accessLog: (e) => say(JSON.stringify({ time: new Date().toISOString(), ...e })) })
  const colon = opts.addr.lastIndexOf(':')
  const host = opts.addr.slice(0, colon).replace(/^\[|\]$/g, '') || '0.0.0.0'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(Number(opts.addr.slice(colon + 1)), host, () => resolve())
  })
  // The compiled sources are cached now, not at exit: a registry that is killed still starts warm next time.
  flushCompileCache()
  say(JSON.stringify({ time: new Date().toISOString(), msg: 'registry listening', addr: opts.addr, root: opts.root, tls: tls !== undefined, auth: opts.token ? 'token' : opts.htpasswd ? 'htpasswd' : 'none', ...(proxy ? { proxy: proxy.upstream } : {}) }))
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve())
    process.once('SIGINT', () => resolve())
  })
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return 0
}

async function main(): Promise<number> {
  const opts = await parseArgs(process.argv.slice(2))
  if (opts === 'help') {
    process.stdout.write(usage)
    return 0
  }
  const storage = new FilesystemStorage(opts.root)
  await storage.init()
  if (opts.command === 'serve') return serve(opts, storage)
  const result = await collectGarbage(storage, { dryRun: opts.dryRun, deleteUntagged: opts.deleteUntagged, graceMs: opts.graceMs, log: say })
  say(`${result.marked} blobs marked, ${result.deleted.length} ${opts.dryRun ? 'eligible for deletion' : 'deleted'} (${result.freedBytes} bytes)${opts.deleteUntagged ? `, ${result.manifestsDeleted.length} untagged manifests` : ''}`)
  return 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`cais registry: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  },
)
