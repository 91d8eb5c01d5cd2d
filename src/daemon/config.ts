import { invalid } from '../lib/errors.ts'
import type { Level } from '../lib/log.ts'

export interface DaemonConfig {
  root: string
  execRoot: string
  /** Listen addresses: `unix:///path` (TCP arrives with the TLS issue). */
  hosts: string[]
  logLevel: Level
  conmon: string
  crun: string
  insecureRegistries: string[]
  /** Per-registry TLS files, as Docker's /etc/docker/certs.d. */
  certsDir: string
  maxConcurrentDownloads: number
  maxConcurrentUploads: number
  /** The default bridge's device, and its gateway address with prefix (`--bip`); otherwise picked from the pools. */
  bridgeName: string
  bip: string | undefined
  /** Subnets for networks that do not name one: each pool split into subnets of `size` prefix bits. */
  addressPools: Array<{ base: string; size: number }>
  /** Prefix of cais's own iptables chains. */
  chainPrefix: string
  /** The overlay control plane: where this node listens (`ip:port`), its peers, and the shared token. */
  overlayListen: string | undefined
  overlayPeers: string[]
  overlayToken: string
}

export const usage = `Usage:	caisd [OPTIONS]

A container engine that speaks Docker's Engine API.

Options:
      --data-root, --root string   Root directory of persistent state (default "/var/lib/cais")
      --exec-root string           Root directory for execution state files (default "/run/cais")
  -H, --host list                  Daemon socket(s) to connect to (default unix:///run/cais/cais.sock)
  -l, --log-level string           Set the logging level ("debug"|"info"|"warn"|"error") (default "info")
  -D, --debug                      Enable debug mode
      --conmon string              Path to conmon (default "/usr/bin/conmon")
      --crun string                Path to crun (default "/usr/bin/crun")
      --insecure-registry list     Registries (host[:port] or CIDR) reached over plain HTTP or unverified TLS
      --certs-dir string           Per-registry TLS files, <dir>/<host[:port]>/{ca.crt,client.cert,client.key} (default "/etc/cais/certs.d")
      --max-concurrent-downloads int  Maximum concurrent downloads for each pull (default 3)
      --max-concurrent-uploads int    Maximum concurrent uploads for each push (default 5)
      --bridge-name string         Device of the default bridge network (default "cais0")
      --bip string                 The default bridge's gateway address and prefix, e.g. 10.88.0.1/24 (default: from the pools)
      --default-address-pool list  Pools for networks, as base=10.88.0.0/14,size=24 (default base=10.88.0.0/14,size=24)
      --iptables-chain-prefix string  Prefix of cais's iptables chains (default "CAIS")
      --overlay-listen string      ip:port of this node's overlay control plane; the ip also ends VXLAN tunnels
      --overlay-peer list          ip:port of another node's control plane (repeat for each node)
      --overlay-token string       Shared secret of the cluster (default $CAIS_OVERLAY_TOKEN)
  -h, --help                       Print usage
`

/** Parses caisd's flags into a frozen config. Throws an `invalid` error with Docker-like wording. */
export function parseDaemonArgs(argv: readonly string[]): DaemonConfig | 'help' {
  const c: DaemonConfig = {
    root: '/var/lib/cais',
    execRoot: '/run/cais',
    hosts: [],
    logLevel: 'info',
    conmon: '/usr/bin/conmon',
    crun: '/usr/bin/crun',
    insecureRegistries: [],
    certsDir: '/etc/cais/certs.d',
    maxConcurrentDownloads: 3,
    maxConcurrentUploads: 5,
    bridgeName: 'cais0',
    bip: undefined,
    addressPools: [],
    chainPrefix: 'CAIS',
    overlayListen: undefined,
    overlayPeers: [],
    overlayToken: process.env['CAIS_OVERLAY_TOKEN'] ?? '',
  }
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!
    let value: string | undefined
    const eq = arg.indexOf('=')
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1)
      arg = arg.slice(0, eq)
    }
    const next = (): string => {
      if (value !== undefined) return value
      const v = argv[++i]
      if (v === undefined) throw invalid(`flag needs an argument: ${arg}`)
      return v
    }
    switch (arg) {
      case '--root':
      case '--data-root':
        c.root = next()
        break
      case '--exec-root':
        c.execRoot = next()
        break
      case '-H':
      case '--host':
        c.hosts.push(next())
        break
      case '-l':
      case '--log-level': {
        const l = next()
        if (!['debug', 'info', 'warn', 'error'].includes(l)) throw invalid(`invalid log level: ${l}`)
        c.logLevel = l as Level
        break
      }
      case '-D':
      case '--debug':
        c.logLevel = 'debug'
        break
      case '--conmon':
        c.conmon = next()
        break
      case '--crun':
        c.crun = next()
        break
      case '--insecure-registry':
        c.insecureRegistries.push(next())
        break
      case '--certs-dir':
        c.certsDir = next()
        break
      case '--max-concurrent-downloads':
      case '--max-concurrent-uploads': {
        const v = next()
        const n = Number(v)
        if (!/^\d+$/.test(v) || n < 1) throw invalid(`invalid value "${v}" for flag ${arg}: must be a positive integer`)
        if (arg === '--max-concurrent-downloads') c.maxConcurrentDownloads = n
        else c.maxConcurrentUploads = n
        break
      }
      case '--bridge-name': {
        const v = next()
        if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(v)) throw invalid(`invalid bridge name ${JSON.stringify(v)}: at most 15 letters, digits, '_', '.' or '-'`)
        c.bridgeName = v
        break
      }
      case '--bip': {
        const v = next()
        if (!/^\d+\.\d+\.\d+\.\d+\/\d{1,2}$/.test(v)) throw invalid(`invalid --bip ${v}: expected an address with a prefix, as 10.88.0.1/24`)
        c.bip = v
        break
      }
      case '--default-address-pool': {
        const v = next()
        const kv = Object.fromEntries(v.split(',').map((p) => p.split('=') as [string, string]))
        const size = Number(kv['size'])
        if (!kv['base'] || !/^\d+\.\d+\.\d+\.\d+\/\d{1,2}$/.test(kv['base']) || !Number.isInteger(size) || size < 1 || size > 30) {
          throw invalid(`invalid --default-address-pool ${v}: expected base=CIDR,size=N`)
        }
        c.addressPools.push({ base: kv['base'], size })
        break
      }
      case '--iptables-chain-prefix': {
        const v = next()
        if (!/^[A-Za-z0-9_]{1,16}$/.test(v)) throw invalid(`invalid --iptables-chain-prefix ${v}: 1 to 16 letters, digits or '_'`)
        c.chainPrefix = v
        break
      }
      case '--overlay-listen':
      case '--overlay-peer': {
        const v = next()
        if (!/^\d+\.\d+\.\d+\.\d+:\d{1,5}$/.test(v)) throw invalid(`invalid ${arg} ${v}: expected an IPv4 address and a port, as 10.0.0.1:7946`)
        if (arg === '--overlay-listen') c.overlayListen = v
        else c.overlayPeers.push(v)
        break
      }
      case '--overlay-token':
        c.overlayToken = next()
        break
      case '-h':
      case '--help':
        return 'help'
      default:
        throw invalid(`unknown flag: ${arg}`)
    }
  }
  if (c.overlayPeers.length > 0 && !c.overlayListen) throw invalid('--overlay-peer needs --overlay-listen')
  if (c.addressPools.length === 0) c.addressPools.push({ base: '10.88.0.0/14', size: 24 })
  if (c.hosts.length === 0) c.hosts.push(`unix://${c.execRoot}/cais.sock`)
  for (const h of c.hosts) if (!h.startsWith('unix://')) throw invalid(`unsupported host ${h}: only unix:// sockets for now (TCP requires TLS, not yet available)`)
  return Object.freeze(c)
}
