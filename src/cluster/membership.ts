import { readFileSync } from 'node:fs'
import { Etcd3, EtcdLeaseInvalidError, type Lease } from 'etcd3'
import { CaisError, messageOf } from '../lib/errors.ts'
import { withDeadline } from '../lib/deadline.ts'
import type { Logger } from '../lib/log.ts'
import type { ClusterOptions } from './options.ts'

/** A node as the store keeps it (under its lease: gone from the store when the node stops saying it is alive). */
export interface ClusterNode {
  ID: string
  Hostname: string
  Addr: string
  Architecture: string
  EngineVersion: string
  JoinedAt: string
  LastSeen: string
}

export type MembershipState = 'joining' | 'joined' | 'unreachable' | 'closed'

/** A call to the store that gets no answer in this time fails: a store that is down must not hold a request. */
const CALL_TIMEOUT_MS = 3000
const RENEWAL_RETRY_MS = 200
const WATCH_BACKOFF_FIRST_MS = 250
const WATCH_BACKOFF_MAX_MS = 2000

/**
 * The waits between reconnects of the watch stream after it broke: doubling from 250 ms up to 2 s. The client's own
 * grow to 30 s, and after an outage of the store a node would follow its changes again only that much later.
 */
function watchBackoff(duration: number): { duration: number; next(): ReturnType<typeof watchBackoff> } {
  return { duration, next: () => watchBackoff(Math.min(duration * 2, WATCH_BACKOFF_MAX_MS)) }
}

/**
 * This node's membership of the cluster: it registers under a lease of `discovery.ttl` seconds and renews it (and
 * its last-seen time) every `discovery.heartbeat`; a node that stops renewing is gone from every other node's list
 * once its lease expires. When the store cannot be reached the node keeps running and retries, registering again
 * under a new lease when the old one has expired meanwhile.
 */
export class ClusterMembership {
  readonly options: ClusterOptions
  readonly #client: Etcd3
  readonly #self: Omit<ClusterNode, 'JoinedAt' | 'LastSeen'>
  readonly #log: Logger
  #state: MembershipState = 'joining'
  #lease: Lease | undefined
  readonly #onRegistered: Array<() => Promise<void>> = []
  #joinedAt = ''
  #wake: (() => void) | undefined
  #loop: Promise<void> | undefined

  constructor(options: ClusterOptions, self: Omit<ClusterNode, 'JoinedAt' | 'LastSeen'>, log: Logger) {
    this.options = options
    this.#self = self
    this.#log = log
    const tls = options.tls
    this.#client = new Etcd3({
      hosts: options.endpoints,
      dialTimeout: CALL_TIMEOUT_MS,
      // A connection that went silent (a partition, a host gone without a reset) is found by pings and dropped, so
      // the watch errors and is read again instead of waiting on it forever. etcd accepts a ping every 5 s.
      grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': CALL_TIMEOUT_MS, 'grpc.keepalive_permit_without_calls': 1 },
      // Calls get a deadline; streams (the watch) live on.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
      faultHandling: { watchBackoff: watchBackoff(WATCH_BACKOFF_FIRST_MS) },
      ...(tls
        ? { credentials: { rootCertificate: readFileSync(tls.caFile), ...(tls.certFile ? { certChain: readFileSync(tls.certFile), privateKey: readFileSync(tls.keyFile!) } : {}) } }
        : {}),
    })
  }

  get state(): MembershipState {
    return this.#state
  }

  /** The etcd client, for the other users of the store (overlay networks). */
  get client(): Etcd3 {
    return this.#client
  }

  /** The lease this node is registered under; undefined until it is (and while the store cannot be reached). */
  get lease(): Lease | undefined {
    return this.#is('joined') ? this.#lease : undefined
  }

  /** The lease once this node is registered, waiting up to `ms` for a registration under way (the store just back). */
  async joinedLease(ms: number): Promise<Lease | undefined> {
    const end = Date.now() + ms
    while (!this.lease && !this.#is('closed') && Date.now() < end) await new Promise((r) => setTimeout(r, 50))
    return this.lease
  }

  /** Runs after every registration (the first, and each under a new lease after the store was lost). */
  onRegistered(fn: () => Promise<void>): void {
    this.#onRegistered.push(fn)
  }

  /** The store cannot be reached: the error every user of it gives, naming it. */
  unreachable(err: unknown): CaisError {
    return new CaisError('unavailable', `cluster store ${this.options.store} cannot be reached: ${messageOf(err)}`)
  }

  /** Where node records live: `<prefix>/v1/nodes/<id>`. */
  get nodesPrefix(): string {
    return `${this.options.prefix}/v1/nodes/`
  }

  #key = (id: string): string => `${this.nodesPrefix}${id}`

  start(): void {
    this.#loop ??= this.#run()
  }

  // A method, not a comparison in place: the state changes across the awaits of the loop below.
  #is = (state: MembershipState): boolean => this.#state === state

  async #run(): Promise<void> {
    let backoffMs = 250
    while (!this.#is('closed')) {
      try {
        const lease = this.#client.lease(this.options.ttlSeconds, { autoKeepAlive: false })
        lease.on('lost', () => {}) // renewals are ours, below; a lost lease shows as a failed renewal
        await lease.grant()
        let renewedAt = Date.now()
        this.#joinedAt ||= new Date().toISOString()
        await this.#announce(lease)
        this.#lease = lease
        if (this.#is('closed')) break
        if (!this.#is('joined')) this.#log.info('joined the cluster', { store: this.options.store, advertise: this.options.advertise, ttl: this.options.ttlSeconds })
        this.#state = 'joined'
        backoffMs = 250
        for (const fn of this.#onRegistered) await fn().catch((err: unknown) => this.#log.warn('cluster: re-announcing after registration failed', { err: messageOf(err) }))
        while (this.#is('joined')) {
          await this.#sleep(this.options.heartbeatSeconds * 1000)
          if (!this.#is('joined')) break
          await this.#renew(lease, renewedAt + this.options.ttlSeconds * 1000)
          renewedAt = Date.now()
        }
      } catch (err) {
        if (this.#is('closed')) break
        if (!this.#is('unreachable')) this.#log.warn('cluster store unreachable; retrying', { store: this.options.store, err: messageOf(err) })
        this.#state = 'unreachable'
        await this.#sleep(backoffMs)
        backoffMs = Math.min(backoffMs * 2, this.options.heartbeatSeconds * 1000)
      }
    }
  }

  /**
   * Renews the lease and the node's record, trying again while the lease may hold: one call meeting a member that is
   * down, or the store between two leaders (etcd extends every lease when a new leader takes over, so an election
   * does not expire them), is no reason to leave the cluster. Past the lease's own time plus one more, or once etcd
   * says the lease is gone, the node registers again.
   */
  async #renew(lease: Lease, expires: number): Promise<void> {
    const giveUp = expires + this.options.ttlSeconds * 1000
    for (;;) {
      try {
        // A renewal travels on a stream, which has no deadline of its own: a store lost behind a silent network
        // (no reset, as a host that vanished) would hold it, and this node would never notice.
        await withDeadline(lease.keepaliveOnce(), Math.min(CALL_TIMEOUT_MS, Math.max(giveUp - Date.now(), 100)), 'lease renewal')
        await this.#announce(lease)
        return
      } catch (err) {
        if (this.#is('closed') || err instanceof EtcdLeaseInvalidError || Date.now() + RENEWAL_RETRY_MS >= giveUp) throw err
        this.#log.debug('cluster: renewal failed; trying again while the lease holds', { err: messageOf(err) })
        await this.#sleep(RENEWAL_RETRY_MS)
        if (!this.#is('joined')) return // leaseLost: registering again
      }
    }
  }

  /**
   * Another call under the lease was told it is gone (it expired while the store was away, before a renewal found
   * out): this node registers again at once rather than at its next renewal, and `joinedLease` waits for that.
   */
  leaseLost(lease: Lease): void {
    if (this.#lease !== lease || !this.#is('joined')) return
    this.#log.info('cluster: the lease expired; registering again', { store: this.options.store })
    this.#state = 'joining'
    this.#wake?.()
  }

  async #announce(lease: Lease): Promise<void> {
    const record: ClusterNode = { ...this.#self, JoinedAt: this.#joinedAt, LastSeen: new Date().toISOString() }
    await lease.put(this.#key(this.#self.ID)).value(JSON.stringify(record))
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.#wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  /** Every node whose lease is alive, this one included; an error naming the store when it cannot be reached. */
  async nodes(): Promise<ClusterNode[]> {
    try {
      const all = await this.#client.getAll().prefix(this.nodesPrefix).strings()
      return Object.values(all)
        .map((v) => JSON.parse(v) as ClusterNode)
        .sort((a, b) => a.Hostname.localeCompare(b.Hostname) || a.ID.localeCompare(b.ID))
    } catch (err) {
      throw this.unreachable(err)
    }
  }

  /**
   * Stops renewing, without revoking the lease: a caisd that stops leaves its containers running, so the node stays
   * listed until its TTL runs out, and a restart within the TTL takes its key over under a new lease.
   */
  async close(): Promise<void> {
    if (this.#is('closed')) return
    this.#state = 'closed'
    this.#wake?.()
    // A call under way ends at its deadline; closing the client cancels it sooner.
    await withDeadline(this.#loop ?? Promise.resolve(), CALL_TIMEOUT_MS, 'leaving').catch(() => {})
    this.#client.close()
  }
}
