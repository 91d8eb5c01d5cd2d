import { invalid } from '../lib/errors.ts'

/** Where the cluster store is and how this node takes part, from `--cluster-store`, `--cluster-advertise` and `--cluster-store-opt`. */
export interface ClusterOptions {
  /** Client URLs of the etcd members (`http://` or, with `kv.cacertfile`, `https://`). */
  endpoints: string[]
  /** The key prefix every cais key lives under (the store URL's path; `/cais` by default). */
  prefix: string
  /** As given, for `info` and for errors that name the store. */
  store: string
  /** The address other nodes reach this one at (`IP[:PORT]`). */
  advertise: string
  tls?: { caFile: string; certFile?: string; keyFile?: string }
  /** How often a node says it is alive, and how long after its last word it counts as gone (Docker's defaults: 20 and 60). */
  heartbeatSeconds: number
  ttlSeconds: number
}

/**
 * `etcd://HOST:PORT[,HOST:PORT…][/PREFIX]` with Docker's option names: `kv.cacertfile`, `kv.certfile`, `kv.keyfile`,
 * `discovery.heartbeat`, `discovery.ttl` (seconds).
 */
export function parseClusterOptions(store: string, advertise: string | undefined, opts: Record<string, string>): ClusterOptions {
  const m = /^etcd:\/\/([^/]+)(\/.*)?$/.exec(store)
  if (!m) throw invalid(`invalid --cluster-store ${store}: expected etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`)
  const members = m[1]!.split(',')
  for (const member of members) if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(member)) throw invalid(`invalid --cluster-store member ${member}: expected HOST:PORT`)
  if (!advertise) throw invalid('--cluster-store needs --cluster-advertise (the address other nodes reach this one at)')
  if (!/^(\[[0-9a-fA-F:]+\]|[0-9.]+|[0-9a-fA-F:]+)(:\d{1,5})?$/.test(advertise)) throw invalid(`invalid --cluster-advertise ${advertise}: expected IP[:PORT]`)
  const known = new Set(['kv.cacertfile', 'kv.certfile', 'kv.keyfile', 'discovery.heartbeat', 'discovery.ttl'])
  for (const k of Object.keys(opts)) if (!known.has(k)) throw invalid(`unsupported --cluster-store-opt ${k}`)
  const seconds = (key: string, fallback: number): number => {
    const v = opts[key]
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isInteger(n) || n <= 0) throw invalid(`invalid --cluster-store-opt ${key}=${v}: expected a whole number of seconds`)
    return n
  }
  const heartbeatSeconds = seconds('discovery.heartbeat', 20)
  const ttlSeconds = seconds('discovery.ttl', 60)
  if (ttlSeconds <= heartbeatSeconds) throw invalid(`discovery.ttl (${ttlSeconds}) must be greater than discovery.heartbeat (${heartbeatSeconds})`)
  if ((opts['kv.certfile'] === undefined) !== (opts['kv.keyfile'] === undefined)) throw invalid('kv.certfile and kv.keyfile go together')
  if (opts['kv.certfile'] && !opts['kv.cacertfile']) throw invalid('kv.certfile needs kv.cacertfile')
  const scheme = opts['kv.cacertfile'] ? 'https' : 'http'
  return {
    endpoints: members.map((h) => `${scheme}://${h}`),
    prefix: (m[2] ?? '/cais').replace(/\/+$/, '') || '/cais',
    store,
    advertise,
    ...(opts['kv.cacertfile'] ? { tls: { caFile: opts['kv.cacertfile'], ...(opts['kv.certfile'] ? { certFile: opts['kv.certfile'], keyFile: opts['kv.keyfile']! } : {}) } } : {}),
    heartbeatSeconds,
    ttlSeconds,
  }
}
