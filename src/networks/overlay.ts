import { randomInt } from 'node:crypto'
import { CaisError, conflict, invalid, notFound } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import type { KeyedMutex } from '../lib/mutex.ts'
import { ControlPlane, type OverlayDefinition, type OverlayHandlers, type RemoteEndpoint } from './control-plane.ts'
import * as host from './host.ts'
import { contains, formatIPv4, parseIPv4, parseSubnet, size } from './ipv4.ts'
import type { Endpoint, NetworkRecord } from './record.ts'
import type { NetworkStore } from './store.ts'

/** VXLAN's 50 bytes of headers come out of a 1500-byte underlay. */
export const overlayMtu = 1450

export interface OverlayDeps {
  store: NetworkStore
  lock: KeyedMutex
  log: Logger
  control: ControlPlane
  /** Starts the embedded DNS of a network on an address of this node. */
  startDns(n: NetworkRecord, address: string): Promise<void>
  syncFirewall(): Promise<void>
}

/**
 * Overlay networks: one definition shared by every node of the cluster, a bridge and a VXLAN device on each,
 * addresses from the owner, and containers announced to every peer so that names resolve across nodes.
 */
export class OverlayNetworks implements OverlayHandlers {
  readonly #d: OverlayDeps

  constructor(deps: OverlayDeps) {
    this.#d = deps
  }

  get self(): string {
    return this.#d.control.self
  }

  /** `network create -d overlay`: defined here (this node owns it), then on every peer. */
  async create(base: NetworkRecord): Promise<NetworkRecord> {
    const def: OverlayDefinition = { id: base.id, name: base.name, subnet: base.ipam[0]!.subnet, vni: randomInt(4096, 1 << 24), owner: this.self, labels: base.labels, created: base.created }
    await this.defineNetwork(def)
    await this.#d.control.broadcast('POST', '/v1/networks', def)
    return this.#d.store.records.get(def.id)!
  }

  async defineNetwork(def: OverlayDefinition): Promise<void> {
    await this.#d.lock.run('networks', async () => {
      const existing = this.#d.store.records.get(def.id)
      if (existing) return
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
        overlay: { vni: def.vni, vxlan: `vx-${short}`, owner: def.owner, allocations: {}, remote: {} },
      }
      await this.#d.store.save(rec)
    })
    await this.instantiate(this.#d.store.records.get(def.id)!)
  }

  /** Brings up this node's devices for the network and its node address (asked of the owner once). */
  async instantiate(n: NetworkRecord): Promise<void> {
    const o = n.overlay!
    const peers = this.#d.control.peers.map((p) => ControlPlane.addressOf(p))
    await host.ensureOverlay(n.bridge!, o.vxlan, o.vni, ControlPlane.addressOf(this.self), peers, overlayMtu)
    if (!o.nodeAddress) {
      o.nodeAddress = await this.#allocateAt(n, `node:${this.self}`)
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
    await this.forgetNetwork(n.id)
    await this.#d.control.broadcast('DELETE', `/v1/networks/${n.id}`)
  }

  async allocate(id: string, holder: string, want?: string): Promise<string> {
    const n = this.#d.store.records.get(id)
    if (!n?.overlay) throw notFound(`network ${id} not found`)
    if (n.overlay.owner !== this.self) throw invalid(`network ${n.name} is owned by ${n.overlay.owner}`)
    return this.#d.lock.run(`overlay-ipam:${n.id}`, async () => {
      const o = n.overlay!
      const subnet = parseSubnet(n.ipam[0]!.subnet)
      let address: string | undefined
      if (want) {
        if (!contains(subnet, parseIPv4(want))) throw invalid(`invalid endpoint settings: no configured subnet contains IP address ${want}`)
        if (o.allocations[want]) throw conflict('Address already in use')
        address = want
      } else {
        for (let ip = subnet.base + 1; ip < subnet.base + size(subnet) - 1; ip++) {
          if (!o.allocations[formatIPv4(ip)]) {
            address = formatIPv4(ip)
            break
          }
        }
      }
      if (!address) throw conflict(`no available IPv4 addresses on this network's address pools: ${n.name} (${n.id})`)
      o.allocations[address] = holder
      await this.#d.store.save(n)
      return address
    })
  }

  async release(id: string, address: string): Promise<void> {
    const n = this.#d.store.records.get(id)
    if (!n?.overlay || n.overlay.owner !== this.self) return
    await this.#d.lock.run(`overlay-ipam:${n.id}`, async () => {
      delete n.overlay!.allocations[address]
      await this.#d.store.save(n)
    })
  }

  /** An address for a container starting here, from the owner (which may be this node). */
  async endpointAddress(n: NetworkRecord, containerId: string, want?: string): Promise<string> {
    return this.#allocateAt(n, `${this.self}/${containerId}`, want)
  }

  async #allocateAt(n: NetworkRecord, holder: string, want?: string): Promise<string> {
    const owner = n.overlay!.owner
    if (owner === this.self) return this.allocate(n.id, holder, want)
    const r = await this.#d.control.call<{ address: string }>(owner, 'POST', `/v1/networks/${n.id}/allocate`, { holder, ...(want ? { want } : {}) })
    return r.address
  }

  async #releaseAt(n: NetworkRecord, address: string): Promise<void> {
    const owner = n.overlay!.owner
    if (owner === this.self) await this.release(n.id, address)
    else await this.#d.control.call(owner, 'POST', `/v1/networks/${n.id}/release`, { address })
  }

  /** Tells every peer a container of this node joined. */
  async announce(n: NetworkRecord, e: Endpoint): Promise<void> {
    const remote: RemoteEndpoint = { containerId: e.containerId, name: e.name, aliases: e.aliases, address: e.address, node: this.self }
    await this.#d.control.broadcast('POST', `/v1/networks/${n.id}/endpoints`, remote)
  }

  /** A container of this node left: its address goes back to the owner and the peers forget its names. */
  async withdraw(n: NetworkRecord, e: Endpoint): Promise<void> {
    await this.#releaseAt(n, e.address).catch((err: unknown) => this.#d.log.warn('overlay: could not release an address', { network: n.name, address: e.address, err }))
    await this.#d.control.broadcast('DELETE', `/v1/networks/${n.id}/endpoints/${e.containerId}`)
  }

  async addRemote(id: string, e: RemoteEndpoint): Promise<void> {
    const n = this.#d.store.records.get(id)
    if (!n?.overlay) throw notFound(`network ${id} not found`)
    n.overlay.remote[e.containerId] = e
    await this.#d.store.save(n)
  }

  async removeRemote(id: string, containerId: string): Promise<void> {
    const n = this.#d.store.records.get(id)
    if (!n?.overlay?.remote[containerId]) return
    delete n.overlay.remote[containerId]
    await this.#d.store.save(n)
  }

  snapshot(): ReturnType<OverlayHandlers['snapshot']> {
    const networks: OverlayDefinition[] = []
    const endpoints: Array<{ network: string; endpoint: RemoteEndpoint }> = []
    for (const n of this.#d.store.records.values()) {
      if (!n.overlay) continue
      networks.push({ id: n.id, name: n.name, subnet: n.ipam[0]!.subnet, vni: n.overlay.vni, owner: n.overlay.owner, labels: n.labels, created: n.created })
      for (const e of Object.values(n.endpoints)) {
        endpoints.push({ network: n.id, endpoint: { containerId: e.containerId, name: e.name, aliases: e.aliases, address: e.address, node: this.self } })
      }
    }
    return { networks, endpoints }
  }
}
