import { EtcdLeaseInvalidError, type IKeyValue, type Watcher } from 'etcd3'
import { CaisError, conflict, messageOf } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { formatIPv4, parseSubnet, size } from '../networks/ipv4.ts'
import { type OverlayControl, type OverlayDefinition, type OverlayHandlers, type RemoteEndpoint, addressOf } from '../networks/overlay-control.ts'
import type { ClusterMembership, ClusterNode } from './membership.ts'

/**
 * Overlay networks' shared state in etcd, under `<prefix>/v1/overlay/`: each network's definition (and its name,
 * so two nodes cannot both take one), its address allocations (each a key created only if absent: a
 * compare-and-swap, so no address is ever handed out twice), and its endpoints, written under their node's lease
 * so that a dead node's containers drop out with it. One watch on `<prefix>/v1/` follows networks, endpoints and
 * nodes from the revision of the last full read; after a lost watch the state is read again in full.
 */
export class OverlayStore implements OverlayControl {
  readonly #m: ClusterMembership
  readonly #log: Logger
  readonly #root: string
  #handlers: OverlayHandlers | undefined
  /** Node ID → its record, as last read or watched. */
  readonly #nodes = new Map<string, ClusterNode>()
  #watcher: Watcher | undefined
  #closed = false
  /** Addresses claimed by this node for a container whose endpoint is not announced yet (ipam keys). */
  readonly #unannounced = new Set<string>()
  /** Changes are applied one at a time, in the order the store made them. */
  #queue: Promise<void> = Promise.resolve()

  constructor(membership: ClusterMembership, log: Logger) {
    this.#m = membership
    this.#log = log
    this.#root = `${membership.options.prefix}/v1/`
  }

  get self(): string {
    return this.#m.options.advertise
  }

  #key = {
    network: (id: string): string => `${this.#root}overlay/networks/${id}`,
    name: (name: string): string => `${this.#root}overlay/names/${encodeURIComponent(name)}`,
    ipam: (id: string, address = ''): string => `${this.#root}overlay/ipam/${id}/${address}`,
    endpoints: (id: string, containerId = ''): string => `${this.#root}overlay/endpoints/${id}/${containerId}`,
  }

  peerAddresses(): readonly string[] {
    const mine = addressOf(this.self)
    return [...new Set([...this.#nodes.values()].map((n) => addressOf(n.Addr)))].filter((a) => a !== mine).sort()
  }

  async start(handlers: OverlayHandlers): Promise<void> {
    this.#handlers = handlers
    this.#m.onRegistered(() => this.#reannounce())
    // The first read is waited for, so a daemon whose store is up starts with its overlays in place; one whose store
    // is down starts anyway and keeps trying.
    await this.#follow().catch((err: unknown) => {
      this.#log.warn('cluster store unreachable; overlay networks follow it once it answers', { store: this.#m.options.store, err: messageOf(err) })
      this.#retry()
    })
  }

  close(): void {
    this.#closed = true
    if (this.#watcher) retire(this.#watcher)
  }

  #retry(): void {
    if (this.#closed) return
    setTimeout(() => void this.#follow().catch(() => this.#retry()), 1000).unref()
  }

  /** Reads everything, brings this node in line with it, then watches from the revision read. */
  async #follow(): Promise<void> {
    const res = await this.#m.client.getAll().prefix(this.#root).exec()
    const nodes = new Map<string, ClusterNode>()
    const networks = new Map<string, OverlayDefinition>()
    const endpoints = new Map<string, RemoteEndpoint[]>()
    for (const kv of res.kvs) {
      const key = kv.key.toString()
      const value = kv.value.toString()
      const node = this.#nodeId(key)
      if (node) nodes.set(node, JSON.parse(value) as ClusterNode)
      const net = this.#networkId(key)
      if (net) networks.set(net, JSON.parse(value) as OverlayDefinition)
      const ep = this.#endpointKey(key)
      if (ep) endpoints.set(ep.network, [...(endpoints.get(ep.network) ?? []), JSON.parse(value) as RemoteEndpoint])
    }
    await this.#apply(async (h) => {
      this.#nodes.clear()
      for (const [id, n] of nodes) this.#nodes.set(id, n)
      await h.peersChanged(this.peerAddresses())
      await h.resync([...networks.values()], endpoints)
    })
    if (this.#watcher) retire(this.#watcher)
    const watcher = await this.#m.client.watch().prefix(this.#root).startRevision(String(Number(res.header.revision) + 1)).create()
    this.#watcher = watcher
    watcher.on('put', (kv: IKeyValue) => this.#changed('put', kv))
    watcher.on('delete', (kv: IKeyValue) => this.#changed('delete', kv))
    // A watch the client cannot resume (a compacted revision, a closed stream) is replaced by a full read.
    watcher.on('error', (err: unknown) => {
      if (this.#closed || this.#watcher !== watcher) return
      this.#log.warn('cluster store watch lost; reading it again', { err: messageOf(err) })
      this.#watcher = undefined
      retire(watcher)
      this.#retry()
    })
  }

  #changed(kind: 'put' | 'delete', kv: IKeyValue): void {
    const key = kv.key.toString()
    void this.#apply(async (h) => {
      const node = this.#nodeId(key)
      if (node) {
        // Every heartbeat rewrites a node's record: only a change of addresses reaches the tunnels.
        const before = this.peerAddresses().join(' ')
        if (kind === 'put') this.#nodes.set(node, JSON.parse(kv.value.toString()) as ClusterNode)
        else this.#nodes.delete(node)
        if (this.peerAddresses().join(' ') !== before) {
          this.#log.debug('overlay: the live nodes changed', { peers: this.peerAddresses() })
          await h.peersChanged(this.peerAddresses())
        }
        return
      }
      const net = this.#networkId(key)
      if (net) {
        if (kind === 'put') await h.defineNetwork(JSON.parse(kv.value.toString()) as OverlayDefinition)
        else await h.forgetNetwork(net)
        return
      }
      const ep = this.#endpointKey(key)
      if (ep) {
        if (kind === 'put') await h.addRemote(ep.network, JSON.parse(kv.value.toString()) as RemoteEndpoint)
        else await h.removeRemote(ep.network, ep.container)
      }
    })
  }

  #apply(fn: (h: OverlayHandlers) => Promise<void>): Promise<void> {
    const h = this.#handlers!
    this.#queue = this.#queue.then(() => fn(h)).catch((err: unknown) => this.#log.warn('overlay: a change from the cluster store could not be applied', { err: messageOf(err) }))
    return this.#queue
  }

  #nodeId(key: string): string | undefined {
    const p = this.#m.nodesPrefix
    return key.startsWith(p) ? key.slice(p.length) : undefined
  }

  #networkId(key: string): string | undefined {
    const p = `${this.#root}overlay/networks/`
    return key.startsWith(p) ? key.slice(p.length) : undefined
  }

  #endpointKey(key: string): { network: string; container: string } | undefined {
    const p = `${this.#root}overlay/endpoints/`
    if (!key.startsWith(p)) return undefined
    const [network, container] = key.slice(p.length).split('/')
    return network && container ? { network, container } : undefined
  }

  /**
   * After each registration (a new lease): this node's endpoints again under it, and the endpoints and addresses of
   * containers it no longer has (removed while the store was away) gone. An address claimed for a container that is
   * connecting right now has no endpoint yet: it is in #unannounced, and kept.
   */
  async #reannounce(): Promise<void> {
    if (!this.#handlers) return
    const mine = this.#handlers.localEndpoints()
    for (const { network, endpoint } of mine) await this.announce(network, endpoint)
    const wanted = new Set(mine.map(({ network, endpoint }) => this.#key.endpoints(network, endpoint.containerId)))
    const endpoints = await this.#m.client.getAll().prefix(`${this.#root}overlay/endpoints/`).strings()
    for (const [key, value] of Object.entries(endpoints)) {
      if ((JSON.parse(value) as RemoteEndpoint).node === this.self && !wanted.has(key)) await this.#m.client.delete().key(key).exec()
    }
    const held = new Set(mine.map(({ network, endpoint }) => this.#key.ipam(network, endpoint.address)))
    const addresses = await this.#m.client.getAll().prefix(`${this.#root}overlay/ipam/`).strings()
    for (const [key, holder] of Object.entries(addresses)) {
      if (holder.startsWith(`${this.self}/`) && !held.has(key) && !this.#unannounced.has(key)) await this.#m.client.delete().key(key).exec()
    }
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof CaisError) throw err
      throw this.#m.unreachable(err)
    }
  }

  async publishNetwork(def: OverlayDefinition): Promise<void> {
    const c = this.#m.client
    const made = await this.#call(() => c.if(this.#key.name(def.name), 'Create', '==', 0).then(c.put(this.#key.name(def.name)).value(def.id), c.put(this.#key.network(def.id)).value(JSON.stringify(def))).commit())
    if (!made.succeeded) throw conflict(`network with name ${def.name} already exists`)
  }

  async unpublishNetwork(def: { id: string; name: string }): Promise<void> {
    const c = this.#m.client
    const users = await this.#call(() => c.getAll().prefix(this.#key.endpoints(def.id)).strings())
    const first = Object.values(users)[0]
    if (first) throw new CaisError('forbidden', `error while removing network: network ${def.name} id ${def.id} has active endpoints on ${(JSON.parse(first) as RemoteEndpoint).node}`)
    await this.#call(async () => {
      await c.if(this.#key.name(def.name), 'Value', '==', def.id).then(c.delete().key(this.#key.name(def.name))).commit()
      await c.delete().key(this.#key.network(def.id)).exec()
      await c.delete().prefix(this.#key.ipam(def.id)).exec()
    })
  }

  async allocate(networkId: string, subnet: string, holder: string, want?: string): Promise<string> {
    const c = this.#m.client
    const claim = (address: string): Promise<boolean> =>
      this.#call(async () => {
        const key = this.#key.ipam(networkId, address)
        // Marked before the claim: a registration meanwhile must not take back an address its endpoint lacks.
        this.#unannounced.add(key)
        const claimed = (await c.if(key, 'Create', '==', 0).then(c.put(key).value(holder)).commit()).succeeded ?? false
        if (!claimed) this.#unannounced.delete(key)
        return claimed
      })
    if (want) {
      if (!(await claim(want))) throw conflict('Address already in use')
      return want
    }
    const s = parseSubnet(subnet)
    for (let attempt = 0; attempt < 8; attempt++) {
      const taken = new Set((await this.#call(() => c.getAll().prefix(this.#key.ipam(networkId)).keys())).map((k) => k.slice(this.#key.ipam(networkId).length)))
      const free: string[] = []
      for (let ip = s.base + 1; ip < s.base + size(s) - 1 && free.length < 16; ip++) if (!taken.has(formatIPv4(ip))) free.push(formatIPv4(ip))
      if (free.length === 0) break
      // Another node may claim the same address meanwhile: the claim fails and the next free one is tried.
      for (const address of free) if (await claim(address)) return address
    }
    throw conflict(`no available IPv4 addresses on this network's address pools: ${networkId}`)
  }

  // Releases and withdrawals fail at once while this node is not registered (the store away): a container's removal
  // does not wait on the store. Its endpoint and its address go at the next registration (#reannounce).
  async release(networkId: string, address: string): Promise<void> {
    this.#unannounced.delete(this.#key.ipam(networkId, address))
    if (!this.#m.lease) throw this.#m.unreachable(new Error('this node is not registered'))
    await this.#call(() => this.#m.client.delete().key(this.#key.ipam(networkId, address)).exec())
  }

  async announce(networkId: string, endpoint: RemoteEndpoint): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const lease = await this.#m.joinedLease(5000)
      if (!lease) throw this.#m.unreachable(new Error('this node is not registered'))
      try {
        await lease.put(this.#key.endpoints(networkId, endpoint.containerId)).value(JSON.stringify(endpoint)).exec()
        break
      } catch (err) {
        // The lease expired while the store was away and no renewal has found out yet: under the next one, once.
        if (err instanceof EtcdLeaseInvalidError && attempt === 1) {
          this.#m.leaseLost(lease)
          continue
        }
        throw err instanceof CaisError ? err : this.#m.unreachable(err)
      }
    }
    this.#unannounced.delete(this.#key.ipam(networkId, endpoint.address))
  }

  async withdraw(networkId: string, containerId: string): Promise<void> {
    if (!this.#m.lease) throw this.#m.unreachable(new Error('this node is not registered'))
    await this.#call(() => this.#m.client.delete().key(this.#key.endpoints(networkId, containerId)).exec())
  }
}

/** A watch no longer followed: cancelled, its events ignored (an 'error' listener stays, or an error would throw). */
function retire(watcher: Watcher): void {
  watcher.removeAllListeners()
  watcher.on('error', () => {})
  void watcher.cancel().catch(() => {})
}
