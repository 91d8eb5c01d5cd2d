import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createSign, randomUUID, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { type Server, createServer, request } from 'node:http'
import { type AddressInfo, createServer as createNetServer, connect } from 'node:net'
import { join } from 'node:path'
import { type Scope, killAndWait } from './daemon.ts'
import bcrypt from 'bcryptjs'

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  address: string
  dir: string
  /** Everything the registry logged so far (its access log included). */
  log(): string
  /** Blob GETs answered 200 for a digest, counted from the access log. */
  blobGets(digest: string): number
  kill(): Promise<void>
}

export interface RegistryOptions {
  /** Basic auth from an htpasswd file with this one user. */
  htpasswd?: { user: string; password: string }
  /** Bearer tokens from a token server run by the test. */
  token?: { user: string; password: string }
}

export async function freePort(): Promise<number> {
  const srv = createNetServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as AddressInfo
  await new Promise((r) => srv.close(r))
  return port
}

/**
 * Starts Debian's docker-registry (distribution 2.8) on 127.0.0.1 with a temp storage dir, optionally behind
 * htpasswd or token auth. Stopped and removed in t.after.
 */
export async function startRegistry(t: Scope, opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync('/tmp/cais-test-registry-')
  const port = await freePort()
  let auth = ''
  let tokenServer: Server | undefined
  if (opts.htpasswd) {
    writeFileSync(join(dir, 'htpasswd'), `${opts.htpasswd.user}:${bcrypt.hashSync(opts.htpasswd.password, 5)}\n`)
    auth = `auth:\n  htpasswd:\n    realm: cais-test\n    path: ${join(dir, 'htpasswd')}\n`
  }
  if (opts.token) {
    const { realm, server } = await startTokenServer(dir, opts.token)
    tokenServer = server
    auth = `auth:\n  token:\n    realm: ${realm}\n    service: cais-test-registry\n    issuer: cais-test-issuer\n    rootcertbundle: ${join(dir, 'token.crt')}\n`
  }
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`,
  )
  let log = ''
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()))
    const deadline = Date.now() + 10_000
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`docker-registry did not start:\n${log}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const kill = async (): Promise<void> => {
    const c = child
    child = undefined
    await killAndWait(c)
  }
  t.after(async () => {
    await kill()
    tokenServer?.close()
    tokenServer?.closeAllConnections()
    rmSync(dir, { recursive: true, force: true })
  })
  await start()
  return {
    address: `127.0.0.1:${port}`,
    dir,
    log: () => log,
    blobGets: (digest) => log.split('\n').filter((l) => l.includes(`"GET /v2/`) && l.includes(`/blobs/${digest} `) && / 200 /.test(l)).length,
    kill,
  }
}

/** Whether something accepts a TCP connection on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy()
      r(true)
    })
    s.on('error', () => r(false))
  })
}

/**
 * A token server as Docker Hub's auth service works: Basic credentials in, a JWT (RS256, signed by a key
 * whose self-signed certificate the registry trusts, sent in `x5c`) out, granting what the scope asked.
 */
async function startTokenServer(dir: string, user: { user: string; password: string }): Promise<{ realm: string; server: Server }> {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'token.key'), '-out', join(dir, 'token.crt'), '-days', '2', '-subj', '/CN=cais-test-token'], { stdio: 'ignore' })
  const key = readFileSync(join(dir, 'token.key'))
  const certDer = new X509Certificate(readFileSync(join(dir, 'token.crt'))).raw.toString('base64')
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const auth = req.headers.authorization ?? ''
    const [u, p] = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(':') : []
    if (u !== undefined && (u !== user.user || p !== user.password)) {
      res.writeHead(401).end('{"details":"incorrect username or password"}')
      return
    }
    const access = url.searchParams.getAll('scope').flatMap((s) => {
      const [type, name, actions] = s.split(':')
      // Anonymous callers get nothing, as on a private registry.
      return u === undefined ? [] : [{ type, name, actions: (actions ?? '').split(',') }]
    })
    const now = Math.floor(Date.now() / 1000)
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer] }
    const claims = { iss: 'cais-test-issuer', sub: u ?? '', aud: url.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }
    const input = `${b64(header)}.${b64(claims)}`
    const sig = createSign('RSA-SHA256').update(input).sign(key).toString('base64url')
    const token = `${input}.${sig}`
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { realm: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, server }
}

/**
 * A TCP proxy in front of a registry that can break blob downloads: `reset` cuts the connection halfway
 * through a blob body, `corrupt` flips one byte of it. Only blob GET answers are touched.
 */
export async function startFaultProxy(t: Scope, target: string): Promise<{ address: string; mode: 'pass' | 'reset' | 'corrupt'; setMode(m: 'pass' | 'reset' | 'corrupt'): void }> {
  const [host, port] = target.split(':') as [string, string]
  const state = { mode: 'pass' as 'pass' | 'reset' | 'corrupt' }
  const server = createServer((req, res) => {
    const isBlob = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '')
    const proxied = request({ host, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers)
      if (!isBlob || state.mode === 'pass' || r.statusCode !== 200) {
        r.pipe(res)
        return
      }
      const total = Number(r.headers['content-length'] ?? 0)
      let sent = 0
      r.on('data', (chunk: Buffer) => {
        if (state.mode === 'reset' && sent + chunk.length >= total / 2) {
          res.write(chunk.subarray(0, Math.max(0, Math.floor(total / 2) - sent)))
          res.socket?.destroy()
          r.destroy()
          return
        }
        if (state.mode === 'corrupt' && sent === 0 && chunk.length > 0) {
          chunk = Buffer.from(chunk)
          chunk[0] = chunk[0]! ^ 0xff
        }
        sent += chunk.length
        res.write(chunk)
      })
      r.on('end', () => res.end())
    })
    proxied.on('error', () => res.destroy())
    req.pipe(proxied)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => {
    server.close()
    server.closeAllConnections()
  })
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    get mode() {
      return state.mode
    },
    setMode: (m) => (state.mode = m),
  }
}
