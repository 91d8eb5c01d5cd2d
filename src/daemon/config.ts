import { type ClusterOptions, parseClusterOptions } from '../cluster/options.ts'
import { isLoopback, parseListen } from '../dashboard/security.ts'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { seccompFromProfile } from '../runtime/seccomp.ts'
import { parseSubnet6 } from '../networks/ipv6.ts'
import { type ContainerDefaults, type Ulimit, builtinDefaults } from '../containers/defaults.ts'
import { validateLogConfig } from '../containers/log-config.ts'
import { builtinRuntimes } from '../containers/runtimes.ts'
import { normalizeMirror } from '../distribution/hosts.ts'
import { parseBytes } from '../lib/size.ts'
import { invalid, messageOf } from '../lib/errors.ts'
import { activatedFds } from './listeners.ts'
import type { Level } from '../lib/log.ts'

export interface DaemonConfig {
  root: string
  execRoot: string
  /** Listen addresses: `unix:///path`, `tcp://host:port` (mutual TLS), `fd://` (socket activation). */
  hosts: string[]
  /** TLS for tcp:// listeners; `verify` requires client certificates signed by `ca`. */
  tls: { enabled: boolean; verify: boolean; ca: string; cert: string; key: string }
  /** `--check-store` (with `--repair`): check the store, offline, and exit instead of serving. */
  checkStore: 'no' | 'check' | 'repair'
  /** A TCP listener without TLS off loopback, which gives root to anyone who reaches it: refused unless asked for. */
  unauthenticatedTcp: boolean
  /** The group owning unix sockets; `cais` when it exists (`--group`). */
  group: string
  logLevel: Level
  conmon: string
  crun: string
  insecureRegistries: string[]
  /** Docker Hub's mirrors, tried in order before the hub (`--registry-mirror`), each normalised to `scheme://host/`. */
  registryMirrors: string[]
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
  /**
   * Seconds a stop waits for requests in flight (`--shutdown-timeout`). dockerd spends it stopping containers; caisd
   * leaves containers running, as dockerd with live-restore, so here it bounds the wait for requests to finish.
   */
  shutdownTimeout: number
  /** daemon.json's `features`, by name: none of dockerd's changes what caisd does (named in the log at start). */
  features: Record<string, boolean>
  /** Published ports through caisd's proxy as well as DNAT (`--userland-proxy`, default true), or by DNAT alone. */
  userlandProxy: boolean
  /** IPv6 on the default bridge (`--ipv6`), in `--fixed-cidr-v6` or a random ULA /64. */
  ipv6: boolean
  fixedCidrV6: string | undefined
  /** `--iptables`, `--ip6tables` (default true): whether caisd writes that family's NAT and filter rules. */
  iptables: boolean
  ip6tables: boolean
  /** Serve the dashboard too, at `HOST:PORT` (`--dashboard-listen`); off loopback it needs TLS and a CA or a password. */
  dashboardListen: string | undefined
  dashboardPasswordFile: string | undefined
  /** Serve Prometheus metrics at `HOST:PORT`/metrics (`--metrics-addr`). */
  metricsAddr: string | undefined
  /** Name the user and process behind each unix-socket client in the audit (`--audit-peers`): one `ss` per connection. */
  auditPeers: boolean
  /** The cluster store (`--cluster-store etcd://…`), this node's address in it and Docker's store options. */
  cluster: ClusterOptions | undefined
  /** `key=value` labels of this daemon (`--label`), shown by `info`. */
  labels: string[]
  /** OCI runtimes besides crun that containers may name (`--add-runtime`, `runtimes`), with their options. */
  runtimes: Record<string, { path: string; runtimeArgs?: string[] }>
  /** The runtime of containers that name none (`--default-runtime`). */
  defaultRuntime: string
  /** What containers get unless they say otherwise: log driver and options, DNS, ulimits, shm size, no_new_privs. */
  containerDefaults: ContainerDefaults
}

export const usage = `Usage:	caisd [OPTIONS]

A container engine that speaks Docker's Engine API.

Options:
      --data-root, --root string   Root directory of persistent state (default "/var/lib/cais")
      --exec-root string           Root directory for execution state files (default "/run/cais")
  -H, --host list                  Daemon socket(s) to connect to: unix://PATH, tcp://HOST:PORT, fd:// (default unix:///run/cais/cais.sock)
  -G, --group string               Group for the unix socket; its members can drive the daemon: root-equivalent (default "cais")
      --tls                        Use TLS; implied by --tlsverify
      --tlsverify                  Use TLS and verify the client's certificate against --tlscacert (mutual TLS)
      --tlscacert string           Trust certs signed only by this CA (default "~/.docker/ca.pem")
      --tlscert string             Path to TLS certificate file (default "~/.docker/cert.pem")
      --tlskey string              Path to TLS key file (default "~/.docker/key.pem")
      --unauthenticated-tcp-gives-root-to-anyone
                                   Allow a tcp:// listener without --tlsverify on an address other than loopback
  -l, --log-level string           Set the logging level ("debug"|"info"|"warn"|"error") (default "info")
  -D, --debug                      Enable debug mode
      --conmon string              Path to conmon (default "/usr/bin/conmon")
      --crun string                Path to crun (default "/usr/bin/crun")
      --insecure-registry list     Registries (host[:port] or CIDR) reached over plain HTTP or unverified TLS
      --registry-mirror list       Preferred Docker Hub mirror (http or https URL; repeat for more, tried in order)
      --certs-dir string           Per-registry TLS files, <dir>/<host[:port]>/{ca.crt,client.cert,client.key} (default "/etc/cais/certs.d")
      --max-concurrent-downloads int  Maximum concurrent downloads for each pull (default 3)
      --max-concurrent-uploads int    Maximum concurrent uploads for each push (default 5)
      --bridge-name string         Device of the default bridge network (default "cais0")
      --bip string                 The default bridge's gateway address and prefix, e.g. 10.88.0.1/24 (default: from the pools)
      --default-address-pool list  Pools for networks, as base=10.88.0.0/14,size=24 (default base=10.88.0.0/14,size=24)
      --shutdown-timeout int       Seconds a stop waits for requests in flight; containers keep running (default 15)
      --userland-proxy             Relay published ports through caisd too; false: DNAT alone, loopback included (default true)
      --ipv6                       Enable IPv6 on the default bridge network
      --fixed-cidr-v6 string       IPv6 subnet of the default bridge (default: a random ULA /64)
      --iptables                   Enable addition of iptables rules: NAT, published ports, isolation (default true)
      --ip6tables                  Enable addition of ip6tables rules (default true)
      --iptables-chain-prefix string  Prefix of cais's iptables chains (default "CAIS")
      --cluster-store string       The cluster store: etcd://HOST:PORT[,HOST:PORT...][/PREFIX]; nodes register in it
      --cluster-advertise string   IP[:PORT] other nodes reach this one at (needed with --cluster-store)
      --cluster-store-opt map      kv.cacertfile, kv.certfile, kv.keyfile (TLS to etcd), discovery.heartbeat and
                                   discovery.ttl (seconds; default 20 and 60)
      --dashboard-listen string    Also serve the dashboard at HOST:PORT; the log prints its one-time URL. Off loopback
                                   it needs --tlscert/--tlskey and --tlsverify's CA or --dashboard-password-file
      --dashboard-password-file string  A password hash from 'cais dashboard --hash-password' that opens a session
      --config-file string         Daemon configuration file, Docker's daemon.json keys (default "/etc/cais/daemon.json");
                                   SIGHUP reads it again and applies what can change live
      --validate                   Check the configuration file and the flags, then exit
      --check-store                Check the store under --root (as 'cais system check') with no daemon serving it, then
                                   exit: 0 when it is sound, 1 with its problems
      --repair                     With --check-store: mend what can be mended without losing data
      --label list                 key=value labels of this daemon
      --log-driver string          Default driver for container logs: json-file, local, syslog, none (default "json-file")
      --log-opt map                Default log driver options for containers, key=value (repeatable)
      --dns list                   DNS server for containers without their own
      --dns-search list            DNS search domain for containers without their own
      --dns-opt list               resolv.conf option for containers without their own
      --default-ulimit ulimit      Default ulimit for containers, name=soft[:hard] (repeatable)
      --default-shm-size bytes     Default /dev/shm size for containers (default 64MiB)
      --no-new-privileges          Set no-new-privileges by default for new containers
      --add-runtime runtime        Register an OCI runtime containers may name, name=path (repeatable)
      --default-runtime string     Default OCI runtime for containers (default "crun")
      --seccomp-profile string     Path to a seccomp profile for containers without their own, or "unconfined" (default "builtin")
      --metrics-addr string        Serve Prometheus metrics at HOST:PORT/metrics, e.g. 127.0.0.1:9323 (no authentication)
      --audit-peers                Name the user and process behind each unix socket client in the audit log
  -h, --help                       Print usage
`

/** Parses caisd's flags into a frozen config. Throws an `invalid` error with Docker-like wording. */
export function parseDaemonArgs(argv: readonly string[]): DaemonConfig | 'help' {
  const certDir = process.env['DOCKER_CERT_PATH'] || `${process.env['HOME'] ?? '/root'}/.docker`
  const c: DaemonConfig = {
    root: '/var/lib/cais',
    execRoot: '/run/cais',
    hosts: [],
    tls: { enabled: false, verify: false, ca: `${certDir}/ca.pem`, cert: `${certDir}/cert.pem`, key: `${certDir}/key.pem` },
    unauthenticatedTcp: false,
    checkStore: 'no',
    group: 'cais',
    logLevel: 'info',
    conmon: '/usr/bin/conmon',
    crun: '/usr/bin/crun',
    insecureRegistries: [],
    registryMirrors: [],
    certsDir: '/etc/cais/certs.d',
    maxConcurrentDownloads: 3,
    maxConcurrentUploads: 5,
    bridgeName: 'cais0',
    bip: undefined,
    addressPools: [],
    chainPrefix: 'CAIS',
    ipv6: false,
    fixedCidrV6: undefined,
    shutdownTimeout: 15,
    userlandProxy: true,
    features: {},
    iptables: true,
    ip6tables: true,
    dashboardListen: undefined,
    dashboardPasswordFile: undefined,
    metricsAddr: undefined,
    auditPeers: false,
    cluster: undefined,
    labels: [],
    runtimes: {},
    defaultRuntime: 'crun',
    containerDefaults: { ...builtinDefaults, logConfig: { Type: 'json-file', Config: {} }, ulimits: [] },
  }
  // Fresh, mutable copies of the built-in defaults' lists, filled by the flags below.
  const defaults = c.containerDefaults
  const dns = { servers: [] as string[], search: [] as string[], options: [] as string[] }
  defaults.dns = dns
  let repair = false
  let clusterStore: string | undefined
  let clusterAdvertise: string | undefined
  const clusterStoreOpts: Record<string, string> = {}
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
      case '-G':
      case '--group':
        c.group = next()
        break
      case '--tls':
        c.tls.enabled = value === undefined || value === 'true'
        break
      case '--tlsverify':
        c.tls.verify = value === undefined || value === 'true'
        break
      case '--tlscacert':
        c.tls.ca = next()
        break
      case '--tlscert':
        c.tls.cert = next()
        break
      case '--tlskey':
        c.tls.key = next()
        break
      case '--check-store':
        if (c.checkStore === 'no') c.checkStore = 'check'
        break
      case '--repair':
        repair = true
        break
      case '--unauthenticated-tcp-gives-root-to-anyone':
        c.unauthenticatedTcp = true
        break
      case '-l':
      case '--log-level': {
        const l = next()
        if (!['debug', 'info', 'warn', 'error'].includes(l)) throw invalid(`invalid log level: ${l}`)
        c.logLevel = l as Level
        break
      }
      case '--audit-peers':
        c.auditPeers = value === undefined || value === 'true'
        break
      case '-D':
      case '--debug':
        if (value === undefined || value === 'true') c.logLevel = 'debug'
        break
      case '--shutdown-timeout': {
        const v = next()
        if (!/^\d+$/.test(v)) throw invalid(`invalid value "${v}" for flag --shutdown-timeout: must be a number of seconds`)
        c.shutdownTimeout = Number(v)
        break
      }
      case '--feature': {
        // cais's own, for daemon.json's `features`: name=true|false.
        const m = /^([^=]+)=(true|false)$/.exec(next())
        if (!m) throw invalid('invalid --feature: expected name=true or name=false')
        c.features[m[1]!] = m[2] === 'true'
        break
      }
      case '--userland-proxy':
        if (value !== undefined && value !== 'true' && value !== 'false') throw invalid(`invalid value "${value}" for flag --userland-proxy: expected true or false`)
        c.userlandProxy = value !== 'false'
        break
      case '--ipv6':
        c.ipv6 = value === undefined || value === 'true'
        break
      case '--fixed-cidr-v6': {
        const v = next()
        try {
          const subnet = parseSubnet6(v)
          if (subnet.prefix > 120) throw new Error('too small for a network')
        } catch (err) {
          throw invalid(`invalid fixed-cidr-v6 ${v}: ${(err as Error).message}`)
        }
        c.fixedCidrV6 = v
        break
      }
      case '--iptables':
      case '--ip6tables': {
        if (value !== undefined && value !== 'true' && value !== 'false') throw invalid(`invalid value "${value}" for flag ${arg}: expected true or false`)
        if (arg === '--iptables') c.iptables = value !== 'false'
        else c.ip6tables = value !== 'false'
        break
      }
      case '--conmon':
        c.conmon = next()
        break
      case '--crun':
        c.crun = next()
        break
      case '--insecure-registry':
        c.insecureRegistries.push(next())
        break
      case '--registry-mirror': {
        const v = next()
        try {
          c.registryMirrors.push(normalizeMirror(v))
        } catch (err) {
          throw invalid((err as Error).message)
        }
        break
      }
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
      case '--overlay-peer':
      case '--overlay-token':
        throw invalid(`${arg} is gone: overlay networks now share their state through a cluster store; start each node with --cluster-store etcd://HOST:PORT and --cluster-advertise IP (see the README, "Cluster store")`)
      case '--cluster-store':
        clusterStore = next()
        break
      case '--cluster-advertise':
        clusterAdvertise = next()
        break
      case '--cluster-store-opt': {
        const v = next()
        const eq = v.indexOf('=')
        if (eq <= 0) throw invalid(`invalid --cluster-store-opt ${v}: expected key=value`)
        clusterStoreOpts[v.slice(0, eq)] = v.slice(eq + 1)
        break
      }
      case '--label': {
        const l = next()
        if (!/^[^=]+=/.test(l)) throw invalid(`bad label "${l}": expected key=value`)
        c.labels.push(l)
        break
      }
      case '--metrics-addr': {
        const v = next()
        if (!/^(\[[0-9a-fA-F:]+\]|[^:/]*):\d{1,5}$/.test(v)) throw invalid(`invalid --metrics-addr ${v}: expected HOST:PORT, as 127.0.0.1:9323`)
        c.metricsAddr = v
        break
      }
      case '--log-driver':
        defaults.logConfig.Type = next()
        break
      case '--log-opt': {
        const v = next()
        const eq = v.indexOf('=')
        if (eq <= 0) throw invalid(`invalid log opt ${JSON.stringify(v)}: expected key=value`)
        defaults.logConfig.Config[v.slice(0, eq)] = v.slice(eq + 1)
        break
      }
      case '--dns': {
        const v = next()
        if (isIP(v) === 0) throw invalid(`${v} is not an ip address`)
        dns.servers.push(v)
        break
      }
      case '--dns-search':
        dns.search.push(next())
        break
      case '--dns-opt':
        dns.options.push(next())
        break
      case '--default-ulimit':
        defaults.ulimits.push(parseUlimit(next()))
        break
      case '--default-shm-size': {
        const v = next()
        const bytes = parseBytes(v)
        if (bytes === undefined || bytes <= 0) throw invalid(`invalid --default-shm-size ${v}: expected a size, as 64m`)
        defaults.shmSize = bytes
        break
      }
      case '--add-runtime': {
        const v = next()
        const eq = v.indexOf('=')
        const name = v.slice(0, eq)
        if (eq <= 0 || eq === v.length - 1) throw invalid(`invalid runtime ${JSON.stringify(v)}: expected name=path`)
        if (builtinRuntimes.includes(name)) throw invalid(`runtime name '${name}' is reserved`)
        c.runtimes[name] = { path: v.slice(eq + 1), ...(c.runtimes[name]?.runtimeArgs ? { runtimeArgs: c.runtimes[name].runtimeArgs } : {}) }
        break
      }
      case '--runtime-arg': {
        // cais's own: daemon.json's runtimeArgs, one `name=ARG` each.
        const v = next()
        const eq = v.indexOf('=')
        if (eq <= 0) throw invalid(`invalid --runtime-arg ${JSON.stringify(v)}: expected name=ARG`)
        const r = (c.runtimes[v.slice(0, eq)] ??= { path: '' })
        r.runtimeArgs = [...(r.runtimeArgs ?? []), v.slice(eq + 1)]
        break
      }
      case '--default-runtime':
        c.defaultRuntime = next()
        break
      case '--seccomp-profile': {
        const v = next()
        defaults.seccompProfile = v === 'builtin' ? undefined : v === 'unconfined' ? v : readSeccompProfile(v)
        break
      }
      case '--no-new-privileges':
        defaults.noNewPrivileges = value === undefined || value === 'true'
        break
      case '--dashboard-listen':
        c.dashboardListen = next()
        break
      case '--dashboard-password-file':
        c.dashboardPasswordFile = next()
        break
      case '-h':
      case '--help':
        return 'help'
      default:
        throw invalid(`unknown flag: ${arg}`)
    }
  }
  if (clusterStore !== undefined) c.cluster = parseClusterOptions(clusterStore, clusterAdvertise, clusterStoreOpts)
  else if (clusterAdvertise !== undefined || Object.keys(clusterStoreOpts).length > 0) throw invalid('--cluster-advertise and --cluster-store-opt need --cluster-store')
  if (repair && c.checkStore === 'no') throw invalid('--repair needs --check-store')
  if (repair) c.checkStore = 'repair'
  validateLogConfig(defaults.logConfig)
  for (const [name, r] of Object.entries(c.runtimes)) if (!r.path) throw invalid(`runtime ${name} has no path`)
  if (!builtinRuntimes.includes(c.defaultRuntime) && !(c.defaultRuntime in c.runtimes)) throw invalid(`specified default runtime '${c.defaultRuntime}' does not exist`)
  if (c.addressPools.length === 0) c.addressPools.push({ base: '10.88.0.0/14', size: 24 })
  if (c.hosts.length === 0) c.hosts.push(`unix://${c.execRoot}/cais.sock`)
  if (c.tls.verify) c.tls.enabled = true
  for (const h of c.hosts) checkHost(h, c)
  if (c.dashboardListen) checkDashboard(c)
  return Object.freeze(c)
}

/**
 * A listen address caisd can serve. Whoever reaches the API owns the host, so a TCP listener needs mutual TLS,
 * except on loopback, or with the flag whose name says what it does (as Docker stopped allowing it silently).
 */
function checkHost(host: string, c: DaemonConfig): void {
  if (host.startsWith('unix://') && host.length > 'unix://'.length) return
  if (/^fd:\/\/\d*$/.test(host)) {
    activatedFds(host)
    return
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:]+\]|[^:/]*):(\d+)$/.exec(host)
  if (!m) throw invalid(`invalid host ${JSON.stringify(host)}: expected unix://PATH, tcp://HOST:PORT or fd://`)
  const port = Number(m[2])
  if (port < 1 || port > 65535) throw invalid(`invalid host ${host}: port out of range`)
  if (c.tls.verify) return
  const address = m[1]!.replace(/^\[|\]$/g, '')
  const loopback = address === 'localhost' || address === '::1' || /^127\./.test(address)
  if (loopback || c.unauthenticatedTcp) return
  throw invalid(
    `refusing to listen on ${host} without --tlsverify: anyone who can reach it gets root on this machine. ` +
      'Use --tlsverify with --tlscacert, --tlscert and --tlskey (cais tls init makes them), or, knowing that, --unauthenticated-tcp-gives-root-to-anyone',
  )
}

/** A `--seccomp-profile` file, read and checked now: a profile that would fail every start fails the daemon's. */
function readSeccompProfile(path: string): string {
  let text
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw invalid(`opening seccomp profile (${path}) failed: ${messageOf(err)}`)
  }
  seccompFromProfile(text)
  return text
}

/** `--default-ulimit name=soft[:hard]`, as Docker's `--ulimit`. */
function parseUlimit(v: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v)
  if (!m) throw invalid(`invalid ulimit argument: ${v}`)
  if (!ulimitNames.includes(m[1]!)) throw invalid(`invalid ulimit type: ${m[1]}`)
  const soft = Number(m[2])
  const hard = m[3] === undefined ? soft : Number(m[3])
  if (soft > hard && hard !== -1) throw invalid(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`)
  return { Name: m[1]!, Soft: soft, Hard: hard }
}

const ulimitNames = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']

/** Refused before the daemon touches anything: a dashboard off loopback without TLS, or with TLS but no one to trust. */
function checkDashboard(c: DaemonConfig): void {
  let host
  try {
    host = parseListen(c.dashboardListen!).host
  } catch (err) {
    throw invalid((err as Error).message)
  }
  if (isLoopback(host)) return
  if (!c.tls.enabled) throw invalid(`--dashboard-listen ${c.dashboardListen} is not a loopback address: it needs --tls (or --tlsverify) with --tlscert and --tlskey`)
  if (!c.tls.verify && !c.dashboardPasswordFile) {
    throw invalid(`--dashboard-listen ${c.dashboardListen} is not a loopback address: it needs client certificates (--tlsverify) or --dashboard-password-file`)
  }
}
