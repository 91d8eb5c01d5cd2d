import { randomInt } from 'node:crypto'
import { CaisError, conflict, invalid } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import type { KeyedMutex } from '../lib/mutex.ts'
import * as host from './host.ts'
import { contains, parseIPv4, parseSubnet } from './ipv4.ts'
import { type OverlayControl, type OverlayDefinition, type OverlayHandlers, type RemoteEndpoint, addressOf } from './overlay-control.ts'
import type { Endpoint, NetworkRecord } from './record.ts'
import type { NetworkStore } from './store.ts'

/** VXLAN's 50 bytes of headers come out of a 1500-byte underlay. */
export const overlayMtu = 1450

export interface OverlayDeps {
  store: NetworkStore
  lock: KeyedMutex
  log: Logger
  control: OverlayControl
  /** Starts the embedded DNS of a network on an address of this node. */
  startDns(n: NetworkRecord, address: string): Promise<void>
  syncFirewall(): Promise<void>
}

/**
 * Overlay networks: one definition shared by every node of the cluster, a bridge and a VXLAN device on each,
 * addresses allocated in the cluster store, and containers announced there so that names resolve across nodes.
 */
export class OverlayNetworks implements OverlayHandlers {
  readonly #d: OverlayDeps

  constructor(deps: OverlayDeps) {
    this.#d = deps
  }

  get self(): string {
    return this.#d.control.self
  }

  /** `network create -d overlay`: published in the store (a name taken anywhere is refused), then made here. */
  async create(base: NetworkRecord): Promise<NetworkRecord> {
    const def: OverlayDefinition = { id: base.id, name: base.name, subnet: base.ipam[0]!.subnet, vni: randomInt(4096, 1 << 24), owner: this.self, labels: base.labels, created: base.created }
    await this.#d.control.publishNetwork(def)
    await this.defineNetwork(def)
    return this.#d.store.records.get(def.id)!
  }

  async defineNetwork(def: OverlayDefinition): Promise<void> {
    const made = await this.#d.lock.run('networks', async () => {
      const existing = this.#d.store.records.get(def.id)
      if (existing) return false
      for (const n of this.#d.store.records.values()) if (n.name === def.name) throw conflict(`network with name ${def.name} already exists`)
      const short = def.id.slice(0, 10)
      const rec: NetworkRecord = {
        id: def.id,
        name: def.name,
        driver: 'overlay',
        created: def.created,
        scope: 'swarm',
        internal: true,
        attachable: true,
        isDefault: false,
        labels: def.labels,
        options: {},
        bridge: `ov-${short}`,
        mtu: overlayMtu,
        ipam: [{ subnet: def.subnet, gateway: '' }],
        endpoints: {},
        overlay: { vni: def.vni, vxlan: `vx-${short}`, owner: def.owner, remote: {} },
      }
      await this.#d.store.save(rec)
      return true
    })
    if (made) await this.instantiate(this.#d.store.records.get(def.id)!)
  }

  /** Brings up this node's devices for the network and its node address (allocated once, kept in the record). */
  async instantiate(n: NetworkRecord): Promise<void> {
    const o = n.overlay!
    await host.ensureOverlay(n.bridge!, o.vxlan, o.vni, addressOf(this.self), this.#d.control.peerAddresses(), overlayMtu)
    if (!o.nodeAddress) {
      o.nodeAddress = await this.#d.control.allocate(n.id, n.ipam[0]!.subnet, `node:${this.self}`)
      await this.#d.store.save(n)
    }
    await host.addAddress(n.bridge!, `${o.nodeAddress}/${parseSubnet(n.ipam[0]!.subnet).prefix}`)
    await this.#d.startDns(n, o.nodeAddress)
    await this.#d.syncFirewall()
  }

  async forgetNetwork(id: string): Promise<void> {
    const n = this.#d.store.records.get(id)
    if (!n) return
    if (Object.keys(n.endpoints).length > 0) throw new CaisError('forbidden', `network ${n.name} id ${n.id} has active endpoints`)
    await host.removeLink(n.overlay!.vxlan)
    await host.removeLink(n.bridge!)
    await this.#d.store.delete(id)
  }

  /** `network rm` of an overlay: refused while any node runs a container on it; otherwise gone everywhere. */
  async remove(n: NetworkRecord): Promise<void> {
    const remote = Object.values(n.overlay!.remote)
    if (remote.length > 0) throw new CaisError('forbidden', `error while removing network: network ${n.name} id ${n.id} has active endpoints on ${remote[0]!.node}`)
    await this.#d.control.unpublishNetwork({ id: n.id, name: n.name })
    await this.forgetNetwork(n.id)
  }

  /** An address for a container starting here, from the cluster store's allocation. */
  async endpointAddress(n: NetworkRecord, containerId: string, want?: string): Promise<string> {
    if (want && !contains(parseSubnet(n.ipam[0]!.subnet), parseIPv4(want))) throw invalid(`invalid endpoint settings: no configured subnet contains IP address ${want}`)
    return this.#d.control.allocate(n.id, n.ipam[0]!.subnet, `${this.self}/${containerId}`, want)
  }

  /** Tells every node a container of this one joined. */
  async announce(n: NetworkRecord, e: Endpoint): Promise<void> {
    await this.#d.control.announce(n.id, { containerId: e.containerId, name: e.name, aliases: e.aliases, address: e.address, node: this.self })
  }

  /** A container of this node left: its address goes back and the other nodes forget its names. */
  async withdraw(n: NetworkRecord, e: Endpoint): Promise<void> {
    await this.#d.control.release(n.id, e.address).catch((err: unknown) => this.#d.log.warn('overlay: could not release an address', { network: n.name, address: e.address, err }))
    await this.#d.control.withdraw(n.id, e.containerId).catch((err: unknown) => this.#d.log.warn('overlay: could not withdraw an endpoint', { network: n.name, container: e.containerId, err }))
  }

  async addRemote(id: string, e: RemoteEndpoint): Promise<void> {
    const n = this.#d.store.records.get(id)
    if (!n?.overlay || e.node === this.self) return
    n.overlay.remote[e.containerId] = e
    await this.#d.store.save(n)
  }

  async removeRemote(id: string, containerId: string): Promise<void> {
    const n = this.#d.store.records.get(id)
    if (!n?.overlay?.remote[containerId]) return
    delete n.overlay.remote[containerId]
    await this.#d.store.save(n)
  }

  async resync(networks: readonly OverlayDefinition[], endpoints: ReadonlyMap<string, readonly RemoteEndpoint[]>): Promise<void> {
    const ids = new Set(networks.map((d) => d.id))
    for (const def of networks) await this.defineNetwork(def).catch((err: unknown) => this.#d.log.warn('overlay: a network could not be made here', { network: def.name, err }))
    for (const n of [...this.#d.store.records.values()]) {
      if (!n.overlay) continue
      if (!ids.has(n.id)) {
        await this.forgetNetwork(n.id).catch((err: unknown) => this.#d.log.warn('overlay: a network removed elsewhere is still used here', { network: n.name, err }))
        continue
      }
      const remote: Record<string, RemoteEndpoint> = {}
      for (const e of endpoints.get(n.id) ?? []) if (e.node !== this.self) remote[e.containerId] = e
      if (JSON.stringify(remote) !== JSON.stringify(n.overlay.remote)) {
        n.overlay.remote = remote
        await this.#d.store.save(n)
      }
    }
  }

  /** Every overlay's flooding follows the live nodes: a new node's tunnel is added, a gone node's removed. */
  async peersChanged(addresses: readonly string[]): Promise<void> {
    for (const n of this.#d.store.records.values()) {
      if (!n.overlay) continue
      await host.setOverlayPeers(n.overlay.vxlan, addresses).catch((err: unknown) => this.#d.log.warn('overlay: peers not updated', { network: n.name, err }))
    }
  }

  localEndpoints(): ReturnType<OverlayHandlers['localEndpoints']> {
    const out: ReturnType<OverlayHandlers['localEndpoints']> = []
    for (const n of this.#d.store.records.values()) {
      if (!n.overlay) continue
      for (const e of Object.values(n.endpoints)) out.push({ network: n.id, endpoint: { containerId: e.containerId, name: e.name, aliases: e.aliases, address: e.address, node: this.self } })
    }
    return out
  }
}
