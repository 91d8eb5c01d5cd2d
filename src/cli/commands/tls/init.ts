import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Command } from '../../command.ts'
import { configDir } from '../../config-file.ts'
import { UsageError, bool, list, str } from '../../flags.ts'

/** The files `tls init` writes: the daemon's pair, the client's pair (the names the CLIs look for), the CA. */
const FILES = ['ca.pem', 'ca-key.pem', 'server-cert.pem', 'server-key.pem', 'cert.pem', 'key.pem']

/**
 * `cais tls init`: a CA, a server certificate for this host (its name, localhost and loopback, plus `--host`/`--ip`
 * names) and a client certificate, as Docker's guide makes them by hand with openssl; keys 0600. The directory then
 * serves as the client's DOCKER_CERT_PATH, and its server files as caisd's --tlscert/--tlskey.
 */
export const tlsCommand: Command = {
  name: 'tls',
  group: 'none',
  usage: 'cais tls init [OPTIONS]',
  description: 'Create a CA, a server certificate and a client certificate for mutual TLS',
  flags: [
    { name: 'dir', type: 'string' },
    { name: 'host', type: 'list' },
    { name: 'ip', type: 'list' },
    { name: 'client-name', type: 'string' },
    { name: 'days', type: 'string' },
    { name: 'force', type: 'bool' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(_client, p, io) {
    if (p.args[0] !== 'init') throw new UsageError(`unknown tls command: ${p.args[0]}`)
    const dir = str(p, 'dir') ?? configDir()
    const days = str(p, 'days') ?? '365'
    if (!/^\d+$/.test(days) || Number(days) < 1) throw new Error(`invalid --days ${days}`)
    const existing = FILES.filter((f) => existsSync(join(dir, f)))
    if (existing.length > 0 && !bool(p, 'force')) throw new Error(`${join(dir, existing[0]!)} already exists: use --force to replace the certificates in ${dir}`)
    const names = [...new Set([hostname(), 'localhost', ...list(p, 'host')])]
    const ips = [...new Set(['127.0.0.1', '::1', ...list(p, 'ip')])]
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const work = mkdtempSync(join(dir, '.tls-init-'))
    try {
      const openssl = (...args: string[]): void => {
        const r = spawnSync('openssl', args, { cwd: work, encoding: 'utf8' })
        if (r.error) throw new Error(`openssl is needed to make certificates: ${r.error.message}`)
        if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.trim()}`)
      }
      const key = (file: string): void => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file)
      key('ca-key.pem')
      openssl('req', '-new', '-x509', '-key', 'ca-key.pem', '-sha256', '-days', days, '-subj', `/CN=cais CA (${hostname()})`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem')
      const sign = (name: string, cn: string, extensions: string): void => {
        key(`${name}-key.pem`)
        openssl('req', '-new', '-key', `${name}-key.pem`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`)
        writeFileSync(join(work, `${name}.ext`), extensions)
        openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', days, '-sha256', '-extfile', `${name}.ext`, '-out', `${name}-cert.pem`)
      }
      const san = [...names.map((n) => `DNS:${n}`), ...ips.map((ip) => `IP:${ip}`)].join(',')
      sign('server', hostname(), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`)
      sign('client', str(p, 'client-name') ?? 'client', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n')
      const moves: Array<[string, string, number]> = [
        ['ca.pem', 'ca.pem', 0o644],
        ['ca-key.pem', 'ca-key.pem', 0o600],
        ['server-cert.pem', 'server-cert.pem', 0o644],
        ['server-key.pem', 'server-key.pem', 0o600],
        ['client-cert.pem', 'cert.pem', 0o644],
        ['client-key.pem', 'key.pem', 0o600],
      ]
      for (const [from, to, mode] of moves) {
        chmodSync(join(work, from), mode)
        renameSync(join(work, from), join(dir, to))
      }
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
    io.out(`Certificates written to ${dir} (keys readable by their owner only):
  daemon:  caisd -H tcp://0.0.0.0:2376 --tlsverify --tlscacert ${join(dir, 'ca.pem')} --tlscert ${join(dir, 'server-cert.pem')} --tlskey ${join(dir, 'server-key.pem')}
  client:  DOCKER_CERT_PATH=${dir} DOCKER_TLS_VERIFY=1 DOCKER_HOST=tcp://${names[0]}:2376 cais version   (or: docker --tlsverify ...)
The server certificate names ${[...names, ...ips].join(', ')}. Keep ca-key.pem safe: whoever has it can make client certificates.`)
    return 0
  },
}
