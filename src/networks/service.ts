import { randomBytes } from 'node:crypto'
import type { EventBus } from '../events/bus.ts'
import { CaisError, conflict, invalid, notFound } from '../lib/errors.ts'
import type { Filters } from '../lib/filters.ts'
import { matchLabels } from '../lib/filters.ts'
import { newId, shortId } from '../lib/ids.ts'
import type { Logger } from '../lib/log.ts'
import type { Mounter } from '../lib/mounter.ts'
import { KeyedMutex } from '../lib/mutex.ts'
import { parseTimestamp } from '../lib/time.ts'
import { type OverlayControl, type OverlayHandlers, addressOf } from './overlay-control.ts'
import { DnsServer } from './dns.ts'
import { type GatewayCandidate, gatewayNetwork } from './gateway.ts'
import { OverlayNetworks, overlayMtu } from './overlay.ts'
import { Firewall, type FirewallState } from './firewall.ts'
import * as host from './host.ts'
import { claimStatic, explicitPool, ipv6Pool, nextFree, nextFree6, pickPool, poolFromCidr } from './ipam.ts'
import { parseSubnet } from './ipv4.ts'
import { formatSubnet6, parseSubnet6 } from './ipv6.ts'
import { type PortBinding, PortProxy } from './port-proxy.ts'
import type { Endpoint, NetworkRecord } from './record.ts'
import type { NetworkStore } from './store.ts'
import { type StoreProblem, brokenProblems } from '../store/records.ts'

export interface NetworkServiceOptions {
  store: NetworkStore
  events: EventBus
  log: Logger
  /** The default bridge's device (`cais0`) and, optionally, its gateway/prefix (`--bip`). */
  bridgeName: string
  bridgeCidr?: string | undefined
  /** IPv6 on the default bridge (`--ipv6`), in `subnet` (`--fixed-cidr-v6`) or a random ULA /64; off when undefined. */
  bridgeIpv6?: { subnet: string | undefined } | undefined
  /** Where networks without `--subnet` get theirs: each pool is split into subnets of `size` bits. */
  addressPools: Array<{ base: string; size: number }>
  /** Names cais's iptables chains (`CAIS-FORWARD` …). */
  chainPrefix: string
  /** `--userland-proxy=false`: published ports by DNAT alone, loopback included (hairpin NAT, route_localnet). */
  userlandProxy?: boolean
  /** `--iptables=false`, `--ip6tables=false`: leave that family's firewall alone (no NAT, no DNAT, no isolation). */
  iptables?: boolean
  ip6tables?: boolean
  /** The cluster store's overlay state, when this node takes part in a cluster (`--cluster-store`). */
  control?: OverlayControl | undefined
  /** Unmounts a container's namespace from /run/netns when it goes. */
  mounter: Mounter
}

export interface NetworkCreateRequest {
  Name: string
  Driver?: string
  Internal?: boolean
  Attachable?: boolean
  CheckDuplicate?: boolean
  Labels?: Record<string, string> | null
  Options?: Record<string, string> | null
  IPAM?: {
    Driver?: string
    Config?: Array<{ Subnet?: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> | null }> | null
    Options?: Record<string, string> | null
  } | null
  EnableIPv6?: boolean
}

/** What a container asks of one network when it starts (from its NetworkingConfig). */
export interface EndpointRequest {
  aliases?: string[]
  ipv4Address?: string
  /** `--mac-address`: the container's interface on this network gets it instead of one derived from its address. */
  macAddress?: string
  /** `--gw-priority`: the network with the highest gives the default route (gateway.ts). */
  gwPriority?: number
}

/** A container about to start, as networking needs it. */
export interface SandboxRequest {
  containerId: string
  name: string
  /** Networks by name or ID; the first gets eth0, the one `gatewayNetwork` picks the default route and the ports. */
  networks: Array<{ network: string; request: EndpointRequest }>
  /** Ports to publish: `80/tcp` → bindings; an empty HostPort asks for an ephemeral one. */
  portBindings: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>
}

export interface Sandbox {
  netnsPath: string
  /** For /etc/hosts: the container's own addresses. */
  addresses: string[]
  /** Nameservers for /etc/resolv.conf when a user network serves DNS; otherwise the host's are used. */
  nameservers: string[] | undefined
}

/** Docker's `NetworkSettings.Networks[name]` entry. */
export interface EndpointView {
  IPAMConfig: { IPv4Address?: string } | null
  Links: string[] | null
  Aliases: string[] | null
  MacAddress: string
  DriverOpts: null
  GwPriority: number
  NetworkID: string
  EndpointID: string
  Gateway: string
  IPAddress: string
  IPPrefixLen: number
  IPv6Gateway: string
  GlobalIPv6Address: string
  GlobalIPv6PrefixLen: number
  DNSNames: string[] | null
}

const builtinNames = ['bridge', 'host', 'none']
const sandboxName = (containerId: string): string => `cais-${containerId.slice(0, 12)}`
/** Where a running container's network namespace is (Docker's SandboxKey). */
export const sandboxPath = (containerId: string): string => host.netnsPath(sandboxName(containerId))

/**
 * Networks: the built-in `bridge` (device cais0, NAT to the outside), `host` and `none`, and user-defined
 * bridge networks with embedded DNS. Each running container on a bridge network has a namespace of its own
 * with one veth per network; published ports get a DNAT rule and a userland proxy.
 */
export class NetworkService {
  readonly #o: NetworkServiceOptions
  readonly #firewall: Firewall
  readonly #firewall6: Firewall
  /** ip6tables is touched only once a network has IPv6 (and then kept in step until none has). */
  #v6Rules = false
  readonly #lock = new KeyedMutex()
  readonly #proxies = new Map<string, PortProxy[]>()
  readonly #dns = new Map<string, DnsServer>()
  readonly #overlay: OverlayNetworks | undefined

  constructor(opts: NetworkServiceOptions) {
    this.#o = opts
    this.#firewall = new Firewall(opts.chainPrefix, 4, { hairpin: opts.userlandProxy === false })
    this.#firewall6 = new Firewall(opts.chainPrefix, 6)
    if (opts.control) {
      this.#overlay = new OverlayNetworks({
        store: opts.store,
        lock: this.#lock,
        log: opts.log,
        control: opts.control,
        startDns: (n, address) => this.#startDns(n, address),
        syncFirewall: () => this.#syncFirewall(),
      })
    }
  }

  /** What the cluster store calls on this node as shared state changes; undefined without one. */
  get overlayHandlers(): OverlayHandlers | undefined {
    return this.#overlay
  }

  /** The network records found broken at start (`repair` sets them aside). */
  async check(repair: { root: string } | undefined): Promise<{ checked: number; problems: StoreProblem[] }> {
    return { checked: this.#store.records.size, problems: await brokenProblems(this.#store.broken, repair) }
  }

  get #store(): NetworkStore {
    return this.#o.store
  }

  async init(): Promise<void> {
    await this.#store.init()
    await host.enableForwarding()
    if (!this.#byName('host')) await this.#store.save(this.#builtin('host', 'host'))
    if (!this.#byName('none')) await this.#store.save(this.#builtin('none', 'null'))
    let bridge = this.#byName('bridge')
    const v6 = this.#o.bridgeIpv6
    const v6Differs = bridge && (v6 ? !bridge.ipam6 || (v6.subnet !== undefined && bridge.ipam6.subnet !== formatSubnet6(parseSubnet6(v6.subnet))) : bridge.ipam6 !== undefined)
    if (!bridge || bridge.bridge !== this.#o.bridgeName || (this.#o.bridgeCidr && bridge.ipam[0]?.gateway !== this.#o.bridgeCidr.split('/')[0]) || v6Differs) {
      const pool = this.#o.bridgeCidr ? poolFromCidr(this.#o.bridgeCidr) : await pickPool(undefined, this.#store.records.values(), this.#o.addressPools)
      const others = [...this.#store.records.values()].filter((n) => n !== bridge)
      const pool6 = v6 ? (v6.subnet === undefined && bridge?.ipam6 ? bridge.ipam6 : ipv6Pool(v6.subnet ? { Subnet: v6.subnet } : undefined, others)) : undefined
      if (bridge?.ipam6 && bridge.bridge) await host.removeAddress(bridge.bridge, `${bridge.ipam6.gateway}/${parseSubnet6(bridge.ipam6.subnet).prefix}`).catch(() => {})
      bridge = {
        ...this.#builtin('bridge', 'bridge'),
        ...(bridge ? { id: bridge.id } : {}),
        bridge: this.#o.bridgeName,
        ipam: [pool],
        ...(pool6 ? { ipam6: pool6 } : {}),
        isDefault: true,
        options: { 'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.name': this.#o.bridgeName },
      }
      await this.#store.save(bridge)
    }
    for (const n of this.#store.records.values()) {
      if (n.driver === 'bridge') await this.#ensureBridge(n)
      else if (n.driver === 'overlay') {
        if (this.#overlay) await this.#overlay.instantiate(n).catch((err: unknown) => this.#o.log.warn('overlay network not restored', { network: n.name, err }))
        else this.#o.log.warn('overlay network kept but inactive: caisd runs without --cluster-store', { network: n.name })
      }
    }
    await this.#syncFirewall()
  }

  #builtin(name: string, driver: NetworkRecord['driver']): NetworkRecord {
    return { id: newId(), name, driver, created: new Date().toISOString(), scope: 'local', internal: false, attachable: false, isDefault: false, labels: {}, options: {}, ipam: [], endpoints: {} }
  }

  async #ensureBridge(n: NetworkRecord): Promise<void> {
    const pool = n.ipam[0]!
    const v6 = n.ipam6 ? `${n.ipam6.gateway}/${parseSubnet6(n.ipam6.subnet).prefix}` : undefined
    if (v6) await host.enableForwarding(6)
    await host.ensureBridge(n.bridge!, `${pool.gateway}/${parseSubnet(pool.subnet).prefix}`, n.mtu, v6)
    // Without the proxy, loopback connections are DNATed to the container: the kernel must route 127/8 there.
    if (this.#o.userlandProxy === false) await host.setLinkSysctl(n.bridge!, 'route_localnet', '1')
    if (!n.isDefault) await this.#startDns(n, pool.gateway)
  }

  async #startDns(n: NetworkRecord, address: string): Promise<void> {
    if (this.#dns.has(n.id)) return
    const dns = new DnsServer(address, (name, from) => this.#resolveName(n.id, name, from))
    await dns.start().then(
      () => this.#dns.set(n.id, dns),
      (err: unknown) => this.#o.log.warn('embedded DNS did not start', { network: n.name, err }),
    )
  }

  /** Closes listeners (proxies, DNS); rules, bridges and namespaces stay for the containers that keep running. */
  close(): void {
    for (const ps of this.#proxies.values()) for (const p of ps) p.close()
    this.#proxies.clear()
    for (const d of this.#dns.values()) d.close()
    this.#dns.clear()
  }

  // ---- lookups

  /** The network of that name; two of one name (made by a client of an API before 1.44) make the name ambiguous. */
  #byName(name: string): NetworkRecord | undefined {
    const found = [...this.#store.records.values()].filter((n) => n.name === name)
    if (found.length > 1) throw invalid(`${found.length} matches found based on name: network ${name} is ambiguous`)
    return found[0]
  }

  /** By full ID, name, or unique ID prefix, as Docker resolves networks. */
  get(ref: string): NetworkRecord {
    const exact = this.#store.records.get(ref) ?? this.#byName(ref)
    if (exact) return exact
    const matches = [...this.#store.records.values()].filter((n) => n.id.startsWith(ref))
    if (matches.length === 1 && ref.length > 0) return matches[0]!
    if (matches.length > 1) throw invalid(`network ${ref} is ambiguous (${matches.length} matches found on name)`)
    throw notFound(`network ${ref} not found`)
  }

  /**
   * Names as the asking container sees them: on every user network it is attached to (it asks the DNS of its
   * first network only), answered with the addresses on the first of those networks that knows the name.
   */
  #resolveName(networkId: string, name: string, from: string): string[] {
    const n = this.#store.records.get(networkId)
    if (!n) return []
    const asker = Object.values(n.endpoints).find((e) => e.address === from)?.containerId
    const scopes = [n, ...[...this.#store.records.values()].filter((x) => x !== n && !x.isDefault && asker !== undefined && x.endpoints[asker])]
    for (const net of scopes) {
      const out: string[] = []
      for (const e of [...Object.values(net.endpoints), ...Object.values(net.overlay?.remote ?? {})]) {
        if (e.name === name || e.aliases.includes(name) || shortId(e.containerId) === name) {
          out.push(e.address, ...('address6' in e && e.address6 ? [e.address6] : []))
        }
      }
      if (out.length > 0) return out
    }
    return []
  }

  // ---- network objects

  /**
   * `docker network create`. Any name is taken, as Docker takes it (spaces and slashes too). A name already in use
   * is refused unless `allowDuplicate` (API before 1.44 with `CheckDuplicate: false`), which makes it with a warning.
   */
  async create(req: NetworkCreateRequest, how: { allowDuplicate?: boolean } = {}): Promise<{ Id: string; Warning: string }> {
    const name = req.Name ?? ''
    if (!name) throw invalid('network name must not be empty')
    const driver = req.Driver || 'bridge'
    if (builtinNames.includes(name)) throw new CaisError('forbidden', `operation is not permitted on predefined ${name} network`)
    if (driver === 'overlay') return this.#createOverlay(req)
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found`)
    return this.#lock.run('networks', async () => {
      const existing = [...this.#store.records.values()].find((n) => n.name === name)
      if (existing && !how.allowDuplicate) throw conflict(`network with name ${name} already exists`)
      const warning = existing ? `Network with name ${name} (id : ${existing.id}) already exists` : ''
      const all = req.IPAM?.Config ?? []
      const configs = all.filter((c) => !(c.Subnet ?? '').includes(':'))
      const configs6 = all.filter((c) => (c.Subnet ?? '').includes(':'))
      if (configs.length > 1 || configs6.length > 1) throw invalid('only one IPv4 and one IPv6 pool are supported per network')
      const pool = configs[0]?.Subnet ? explicitPool(configs[0], this.#store.records.values()) : await pickPool(configs[0], this.#store.records.values(), this.#o.addressPools)
      const pool6 = req.EnableIPv6 || configs6.length > 0 ? ipv6Pool(configs6[0], this.#store.records.values()) : undefined
      const opts = req.Options ?? {}
      const id = newId()
      const mtuText = opts['com.docker.network.driver.mtu']
      const mtu = mtuText ? Number(mtuText) : undefined
      if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) throw invalid(`invalid MTU: ${mtuText}`)
      const bridgeName = opts['com.docker.network.bridge.name'] || `br-${id.slice(0, 12)}`
      if (bridgeName.length > 15) throw invalid(`bridge name ${bridgeName} is longer than 15 characters`)
      if ([...this.#store.records.values()].some((n) => n.bridge === bridgeName) || (await host.linkExists(bridgeName))) {
        throw conflict(`bridge name ${bridgeName} is already in use`)
      }
      const rec: NetworkRecord = {
        ...this.#builtin(name, 'bridge'),
        id,
        internal: req.Internal === true,
        attachable: req.Attachable === true,
        labels: req.Labels ?? {},
        options: opts,
        bridge: bridgeName,
        ...(mtu !== undefined ? { mtu } : {}),
        ipam: [pool],
        ...(pool6 ? { ipam6: pool6 } : {}),
      }
      await this.#store.save(rec)
      try {
        await this.#ensureBridge(rec)
        await this.#syncFirewall()
      } catch (err) {
        await host.removeLink(bridgeName).catch(() => {})
        await this.#store.delete(id)
        throw err
      }
      this.#o.events.emit('network', 'create', id, { name, type: 'bridge' })
      return { Id: id, Warning: warning }
    })
  }

  async #createOverlay(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    const overlay = this.#overlay
    if (!overlay) {
      throw new CaisError('unavailable', 'overlay networks need caisd to join a cluster: start it with --cluster-store etcd://HOST:PORT and --cluster-advertise IP')
    }
    const base = await this.#lock.run('networks', async () => {
      if (this.#byName(req.Name)) throw conflict(`network with name ${req.Name} already exists`)
      const configs = req.IPAM?.Config ?? []
      if (configs.length > 1) throw invalid('only one IPv4 pool is supported per network')
      const pool = configs[0]?.Subnet ? explicitPool(configs[0], this.#store.records.values()) : await pickPool(undefined, this.#store.records.values(), this.#o.addressPools)
      return { ...this.#builtin(req.Name, 'overlay'), labels: req.Labels ?? {}, ipam: [pool] }
    })
    const rec = await overlay.create(base)
    this.#o.events.emit('network', 'create', rec.id, { name: rec.name, type: 'overlay' })
    return { Id: rec.id, Warning: '' }
  }

  list(filters: Filters): NetworkRecord[] {
    const out: NetworkRecord[] = []
    for (const n of this.#store.records.values()) {
      const type = builtinNames.includes(n.name) ? 'builtin' : 'custom'
      if (filters.get('type') && !filters.get('type')!.includes(type)) continue
      if (filters.get('driver') && !filters.get('driver')!.includes(n.driver)) continue
      if (filters.get('name') && !filters.get('name')!.some((x) => n.name.includes(x))) continue
      if (filters.get('id') && !filters.get('id')!.some((x) => n.id.startsWith(x))) continue
      if (filters.get('scope') && !filters.get('scope')!.includes(n.scope)) continue
      if (!matchLabels(filters.get('label'), n.labels)) continue
      const dangling = filters.get('dangling')?.[0]
      if (dangling !== undefined && (dangling === 'true' || dangling === '1') !== (type === 'custom' && Object.keys(n.endpoints).length === 0)) continue
      out.push(n)
    }
    return out.sort((a, b) => (a.created < b.created ? -1 : 1))
  }

  async remove(ref: string): Promise<void> {
    const n = this.get(ref)
    if (builtinNames.includes(n.name)) throw new CaisError('forbidden', `${n.name} is a pre-defined network and cannot be removed`)
    // The network's own lock too: a connect under way either finishes first (and the network is in use) or finds it gone.
    await this.#lock.run('networks', () => this.#lock.run(`network:${n.id}`, async () => {
      if (!this.#store.records.has(n.id)) throw notFound(`network ${ref} not found`)
      const users = Object.values(n.endpoints)
      if (users.length > 0) throw new CaisError('forbidden', `error while removing network: network ${n.name} id ${n.id} has active endpoints`)
      this.#dns.get(n.id)?.close()
      this.#dns.delete(n.id)
      if (n.driver === 'overlay') {
        if (!this.#overlay) throw new CaisError('unavailable', 'overlay networks need caisd to join a cluster (--cluster-store)')
        await this.#overlay.remove(n)
      } else {
        await host.removeLink(n.bridge!)
        await this.#store.delete(n.id)
      }
      await this.#syncFirewall()
    }))
    this.#o.events.emit('network', 'destroy', n.id, { name: n.name, type: n.driver })
  }

  async prune(filters: Filters): Promise<{ NetworksDeleted: string[] }> {
    const until = filters.get('until')?.map((u) => parseTimestamp(u))
    if (until?.some((u) => u === undefined)) throw invalid(`invalid filter 'until'`)
    const deleted: string[] = []
    for (const n of [...this.#store.records.values()]) {
      if (builtinNames.includes(n.name) || Object.keys(n.endpoints).length > 0) continue
      if (!matchLabels(filters.get('label'), n.labels)) continue
      if ((filters.get('label!') ?? []).some((l) => matchLabels([l], n.labels))) continue
      if (until && !until.every((u) => Date.parse(n.created) < u!)) continue
      await this.remove(n.id).then(() => deleted.push(n.name), () => {})
    }
    return { NetworksDeleted: deleted }
  }

  // ---- containers

  /** The network a container mode names: `bridge`, a user network's name or ID; null for host, none, container:. */
  static isBridgeMode(mode: string): boolean {
    return mode !== 'host' && mode !== 'none' && !mode.startsWith('container:')
  }

  /**
   * Gives a starting container its namespace, an address and a veth on each of its networks, and its published
   * ports. On failure everything made so far is undone.
   */
  async attach(req: SandboxRequest): Promise<Sandbox> {
    const netns = sandboxName(req.containerId)
    // A namespace left by a run that never cleaned up (a crash mid-start) goes first; usually there is none.
    if (await host.sandboxExists(netns)) await host.removeSandbox(netns, this.#o.mounter)
    if (req.networks.length === 0) await host.createSandbox(netns)
    const addresses: string[] = []
    let nameservers: string[] | undefined
    try {
      const joining = req.networks.map(({ network, request }) => ({ n: this.get(network), request }))
      const candidates = joining.map(({ n, request }) => ({ network: n, gwPriority: request.gwPriority ?? 0 }))
      const [gateway4, gateway6] = [gatewayNetwork(candidates, 4), gatewayNetwork(candidates, 6)]
      for (const [i, { n, request }] of joining.entries()) {
        const e = await this.#connectLive(n, req.containerId, req.name, request, netns, {
          index: i,
          gateway4: n === gateway4,
          gateway6: n === gateway6,
          ports: n === gateway4 ? req.portBindings : {},
          createNamespace: i === 0,
        })
        addresses.push(e.address, ...(e.address6 ? [e.address6] : []))
        // The first user-defined network's DNS answers, whatever the order: names of every network it is on resolve.
        if (!nameservers && !n.isDefault) nameservers = [dnsAddress(n)]
      }
    } catch (err) {
      await this.detach(req.containerId)
      throw err
    }
    return { netnsPath: sandboxPath(req.containerId), addresses, nameservers }
  }

  async #connectLive(
    n: NetworkRecord,
    containerId: string,
    name: string,
    request: EndpointRequest,
    netns: string,
    at: { index: number; gateway4: boolean; gateway6: boolean; ports: SandboxRequest['portBindings']; createNamespace?: boolean },
  ): Promise<Endpoint> {
    if (n.driver !== 'bridge' && n.driver !== 'overlay') throw invalid(`container cannot be connected to network ${n.name} alongside others`)
    const overlay = n.driver === 'overlay' ? this.#overlay : undefined
    if (n.driver === 'overlay' && !overlay) throw new CaisError('unavailable', `network ${n.name} is an overlay and caisd runs without --cluster-store`)
    return this.#lock.run(`network:${n.id}`, async () => {
      if (!this.#store.records.has(n.id)) throw notFound(`network ${n.name} not found`)
      if (n.endpoints[containerId]) throw new CaisError('forbidden', `endpoint with name ${name} already exists in network ${n.name}`)
      const pool = n.ipam[0]!
      const subnet = parseSubnet(pool.subnet)
      const address = overlay
        ? await overlay.endpointAddress(n, containerId, request.ipv4Address)
        : request.ipv4Address
          ? claimStatic(n, request.ipv4Address)
          : nextFree(n)
      const address6 = n.ipam6 ? nextFree6(n) : undefined
      const e: Endpoint = {
        id: newId(),
        containerId,
        name,
        aliases: request.aliases ?? [],
        address,
        ...(address6 ? { address6 } : {}),
        mac: request.macAddress ?? macFor(address),
        ...(request.ipv4Address ? { requestedAddress: request.ipv4Address } : {}),
        ...(request.gwPriority ? { gwPriority: request.gwPriority } : {}),
        hostIf: `veth${randomBytes(5).toString('hex').slice(0, 9)}`,
        ifName: `eth${at.index}`,
        ports: [],
      }
      n.endpoints[containerId] = e
      await this.#store.save(n)
      try {
        await host.addEndpoint(netns, {
          hostIf: e.hostIf,
          containerIf: e.ifName,
          bridge: n.bridge!,
          address,
          mac: e.mac,
          prefix: subnet.prefix,
          ...(address6 && n.ipam6
            ? { address6: { address: address6, prefix: parseSubnet6(n.ipam6.subnet).prefix, ...(at.gateway6 ? { gateway: n.ipam6.gateway } : {}) } }
            : {}),
          ...(at.gateway4 ? { gateway: pool.gateway } : {}),
          ...(overlay ? { mtu: overlayMtu } : n.mtu ? { mtu: n.mtu } : {}),
        }, { createNamespace: at.createNamespace ?? false })
        e.ports = overlay ? [] : await this.#publish(containerId, address, at.ports)
        await this.#store.save(n)
        if (e.ports.length > 0) await this.#syncFirewall()
        if (overlay) await overlay.announce(n, e)
      } catch (err) {
        this.#closeProxies(containerId)
        delete n.endpoints[containerId]
        await this.#store.save(n)
        await host.removeEndpoint(e.hostIf).catch(() => {})
        if (overlay) await overlay.withdraw(n, e).catch(() => {})
        throw err
      }
      this.#o.events.emit('network', 'connect', n.id, { container: containerId, name: n.name, type: n.driver })
      return e
    })
  }

  async #publish(containerId: string, address: string, bindings: SandboxRequest['portBindings']): Promise<PortBinding[]> {
    const out: PortBinding[] = []
    for (const [key, list] of Object.entries(bindings)) {
      const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key)
      if (!m) throw invalid(`invalid port specification: "${key}"`)
      const proto = (m[2] ?? 'tcp') as 'tcp' | 'udp' | 'sctp'
      if (proto === 'sctp') throw invalid('sctp ports are not supported')
      for (const b of list ?? [{}]) {
        const hostPortText = b.HostPort ?? ''
        // A range (`8000-8010`) takes the first port of it that is free, as Docker's.
        const range = /^(\d+)-(\d+)$/.exec(hostPortText)
        const [first, last] = range ? [Number(range[1]), Number(range[2])] : [hostPortText === '' ? 0 : Number(hostPortText), undefined]
        for (const port of [first, last]) {
          if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw invalid(`invalid port specification: "${hostPortText}"`)
        }
        if (last !== undefined && last < first) throw invalid(`invalid port specification: "${hostPortText}"`)
        for (let port = first; ; port++) {
          const binding: PortBinding = { proto, hostIp: b.HostIp || '0.0.0.0', hostPort: port, containerIp: address, containerPort: Number(m[1]), ...(b.HostIp ? {} : { anyAddress: true }) }
          const proxy = new PortProxy(binding, { relay: this.#o.userlandProxy !== false })
          try {
            binding.hostPort = await proxy.listen()
          } catch (err) {
            if (last !== undefined && port < last && err instanceof CaisError && err.kind === 'conflict') continue
            throw err
          }
          this.#proxies.set(containerId, [...(this.#proxies.get(containerId) ?? []), proxy])
          out.push(binding)
          break
        }
      }
    }
    return out
  }

  #closeProxies(containerId: string): void {
    for (const p of this.#proxies.get(containerId) ?? []) p.close()
    this.#proxies.delete(containerId)
  }

  /** Undoes `attach` after the container stopped: endpoints, proxies, rules, the namespace. Safe to repeat. */
  async detach(containerId: string): Promise<void> {
    this.#closeProxies(containerId)
    let hadPorts = false
    // A record that cannot be saved (a full disk) must not leave the namespace, its veths or its rules on the host:
    // those go regardless, and the record is saved at the next detach (a restart detaches every idle container).
    let unsaved: Error | undefined
    for (const n of this.#store.records.values()) {
      const e = n.endpoints[containerId]
      if (!e) continue
      hadPorts ||= e.ports.length > 0
      await this.#lock
        .run(`network:${n.id}`, async () => {
          delete n.endpoints[containerId]
          await this.#store.save(n)
        })
        .catch((err: unknown) => (unsaved ??= err instanceof Error ? err : new Error(String(err))))
      if (n.driver === 'overlay') await this.#overlay?.withdraw(n, e)
      this.#o.events.emit('network', 'disconnect', n.id, { container: containerId, name: n.name, type: n.driver })
    }
    // Deleting the namespace takes every veth in it along (their host ends too); a second detach has nothing to do.
    if (await host.sandboxExists(sandboxName(containerId))) await host.removeSandbox(sandboxName(containerId), this.#o.mounter)
    if (hadPorts) await this.#syncFirewall()
    if (unsaved !== undefined) throw unsaved
  }

  /** After a daemon restart: re-opens the proxies of a container still running, or forgets a gone one. */
  async restore(containerId: string, running: boolean): Promise<void> {
    if (!running || !(await host.sandboxExists(sandboxName(containerId)))) {
      // Also with no endpoint recorded: a start cut before it recorded one may have left the namespace.
      await this.detach(containerId)
      return
    }
    for (const n of this.#store.records.values()) {
      const e = n.endpoints[containerId]
      if (!e) continue
      for (const b of e.ports) {
        const proxy = new PortProxy(b)
        await proxy.listen().then(
          () => this.#proxies.set(containerId, [...(this.#proxies.get(containerId) ?? []), proxy]),
          (err: unknown) => this.#o.log.warn('could not re-open a published port', { container: containerId, port: b.hostPort, err }),
        )
      }
    }
  }

  /** Forgets endpoints of containers that no longer exist (removed while caisd was down). */
  async forgetUnknown(known: Set<string>): Promise<void> {
    for (const n of this.#store.records.values()) for (const id of Object.keys(n.endpoints)) if (!known.has(id)) await this.detach(id)
  }

  /**
   * Puts a running container on one more network. Returns its addresses there, and the network's DNS server
   * when it is a user-defined network, for the container's /etc/hosts and resolv.conf. When the new network is the
   * one the gateway order prefers, the default route moves to it, and the published ports with it (`portBindings`
   * are published when no network had them, as on a container that was on an internal network only).
   */
  async connect(
    network: string,
    containerId: string,
    name: string,
    request: EndpointRequest,
    pid: number,
    portBindings: SandboxRequest['portBindings'] = {},
  ): Promise<{ addresses: string[]; nameserver: string | undefined }> {
    const n = this.get(network)
    const netns = sandboxName(containerId)
    // Its name deleted from the host (`ip netns delete`), the namespace lives on with the container: name it again.
    if (!(await host.sandboxExists(netns))) {
      this.#o.log.warn("the container's network namespace had lost its name; attached again", { container: containerId })
      await host.reattachSandbox(netns, pid)
    }
    const current = this.#networksOf(containerId)
    const before = gatewayNetwork(current)
    const after = [...current, { network: n, gwPriority: request.gwPriority ?? 0 }]
    const gateway4 = gatewayNetwork(after, 4) === n
    const e = await this.#connectLive(n, containerId, name, request, netns, { index: current.length, gateway4, gateway6: gatewayNetwork(after, 6) === n, ports: {} })
    if (gateway4) await this.#movePorts(containerId, before, n, portBindings)
    return { addresses: [e.address, ...(e.address6 ? [e.address6] : [])], nameserver: n.isDefault ? undefined : dnsAddress(n) }
  }

  /** Takes a running container off one network; when that network had its default route, the next in order takes it over with the ports. */
  async disconnect(network: string, containerId: string): Promise<void> {
    const n = this.get(network)
    const e = n.endpoints[containerId]
    if (!e) return
    const current = this.#networksOf(containerId)
    const [was4, was6] = [gatewayNetwork(current, 4) === n, gatewayNetwork(current, 6) === n]
    if (e.ports.length > 0) this.#closeProxies(containerId)
    await this.#lock.run(`network:${n.id}`, async () => {
      delete n.endpoints[containerId]
      await this.#store.save(n)
    })
    await host.removeEndpoint(e.hostIf).catch(() => {})
    if (n.driver === 'overlay') await this.#overlay?.withdraw(n, e)
    this.#o.events.emit('network', 'disconnect', n.id, { container: containerId, name: n.name, type: n.driver })
    const rest = current.filter((c) => c.network !== n)
    const [next4, next6] = [gatewayNetwork(rest, 4), gatewayNetwork(rest, 6)]
    const netns = sandboxName(containerId)
    if (was6 && next6?.ipam6) await host.setDefaultRoute(netns, '::/0', next6.ipam6.gateway)
    if (was4 && next4) {
      await host.setDefaultRoute(netns, 'default', next4.ipam[0]!.gateway)
      await this.#movePorts(containerId, undefined, next4, bindingsOf(e.ports))
    } else if (e.ports.length > 0) await this.#syncFirewall()
  }

  /** The networks a container has an endpoint on, with the priority each asked for. */
  #networksOf(containerId: string): GatewayCandidate[] {
    return [...this.#store.records.values()].filter((x) => x.endpoints[containerId]).map((x) => ({ network: x, gwPriority: x.endpoints[containerId]!.gwPriority ?? 0 }))
  }

  /**
   * Moves a container's published ports from the endpoint on `from` to the one on `to`, keeping the host ports
   * they had; with nothing published on `from`, publishes `otherwise` (the container's port bindings) on `to`.
   */
  async #movePorts(containerId: string, from: NetworkRecord | undefined, to: NetworkRecord, otherwise: SandboxRequest['portBindings']): Promise<void> {
    const old = from?.endpoints[containerId]
    const bindings = old && old.ports.length > 0 ? bindingsOf(old.ports) : otherwise
    if (Object.keys(bindings).length === 0) return
    this.#closeProxies(containerId)
    if (from && old) {
      await this.#lock.run(`network:${from.id}`, async () => {
        old.ports = []
        await this.#store.save(from)
      })
    }
    await this.#lock.run(`network:${to.id}`, async () => {
      const e = to.endpoints[containerId]
      if (!e) return
      e.ports = await this.#publish(containerId, e.address, bindings)
      await this.#store.save(to)
    })
    await this.#syncFirewall()
  }

  // ---- views

  endpointView(network: string, containerId: string, name: string): EndpointView {
    let n: NetworkRecord | undefined
    try {
      n = this.get(network)
    } catch {
      n = undefined
    }
    const e = n?.endpoints[containerId]
    const pool = n?.ipam[0]
    const bridgeLike = n?.driver === 'bridge' || n?.driver === 'overlay'
    return {
      IPAMConfig: e?.requestedAddress ? { IPv4Address: e.requestedAddress } : null,
      Links: null,
      Aliases: e?.aliases.length ? e.aliases : null,
      MacAddress: e?.mac ?? '',
      DriverOpts: null,
      GwPriority: e?.gwPriority ?? 0,
      NetworkID: n?.id ?? '',
      EndpointID: e?.id ?? '',
      Gateway: e && pool ? pool.gateway : '',
      IPAddress: e?.address ?? '',
      IPPrefixLen: e && pool ? parseSubnet(pool.subnet).prefix : 0,
      IPv6Gateway: e?.address6 && n?.ipam6 ? n.ipam6.gateway : '',
      GlobalIPv6Address: e?.address6 ?? '',
      GlobalIPv6PrefixLen: e?.address6 && n?.ipam6 ? parseSubnet6(n.ipam6.subnet).prefix : 0,
      DNSNames: bridgeLike && !n?.isDefault ? [name, shortId(containerId), ...(e?.aliases ?? [])] : null,
    }
  }

  /** Published ports of a running container, as `NetworkSettings.Ports` entries. */
  portsOf(containerId: string): PortBinding[] {
    for (const n of this.#store.records.values()) {
      const e = n.endpoints[containerId]
      if (e && e.ports.length > 0) return e.ports
    }
    return []
  }

  inspect(ref: string, containerNames: (id: string) => string): Record<string, unknown> {
    const n = this.get(ref)
    return {
      Name: n.name,
      Id: n.id,
      Created: n.created,
      Scope: n.scope,
      Driver: n.driver,
      EnableIPv4: true,
      EnableIPv6: n.ipam6 !== undefined,
      IPAM: {
        Driver: 'default',
        Options: {},
        Config: [...n.ipam, ...(n.ipam6 ? [n.ipam6] : [])].map((p) => ({
          Subnet: p.subnet,
          ...(p.gateway ? { Gateway: p.gateway } : {}),
          ...(p.ipRange ? { IPRange: p.ipRange } : {}),
          ...('auxAddresses' in p && p.auxAddresses ? { AuxiliaryAddresses: p.auxAddresses } : {}),
        })),
      },
      Internal: n.internal,
      Attachable: n.attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: Object.fromEntries(
        Object.values(n.endpoints).map((e) => [
          e.containerId,
          { Name: containerNames(e.containerId) || e.name, EndpointID: e.id, MacAddress: e.mac, IPv4Address: `${e.address}/${parseSubnet(n.ipam[0]!.subnet).prefix}`, IPv6Address: e.address6 && n.ipam6 ? `${e.address6}/${parseSubnet6(n.ipam6.subnet).prefix}` : '' },
        ]),
      ),
      Options: n.options,
      Labels: n.labels,
      ...(n.overlay
        ? {
            Peers: [...new Set([this.#overlay?.self ?? '', ...Object.values(n.overlay.remote).map((r) => r.node)])].filter(Boolean).map((node) => ({ Name: node, IP: addressOf(node) })),
            Options: { 'com.docker.network.driver.overlay.vxlanid_list': String(n.overlay.vni) },
          }
        : {}),
    }
  }

  async #syncFirewall(): Promise<void> {
    const state: FirewallState = { networks: [], ports: [] }
    for (const n of this.#store.records.values()) {
      if (n.driver !== 'bridge' && n.driver !== 'overlay') continue
      state.networks.push({ bridge: n.bridge!, subnet: n.ipam[0]!.subnet, internal: n.internal })
      for (const e of Object.values(n.endpoints)) {
        for (const p of e.ports) {
          if (p.proto === 'tcp' || p.proto === 'udp') state.ports.push({ ...p, bridge: n.bridge! })
        }
      }
    }
    if (this.#o.iptables !== false) await this.#firewall.apply(state)
    const v6 = [...this.#store.records.values()].filter((n) => n.ipam6 && n.bridge)
    if ((v6.length === 0 && !this.#v6Rules) || this.#o.ip6tables === false) return
    await this.#firewall6.apply({ networks: v6.map((n) => ({ bridge: n.bridge!, subnet: n.ipam6!.subnet, internal: n.internal })), ports: [] })
    this.#v6Rules = v6.length > 0
  }
}

/** Docker's MAC for an address: 02:42 followed by the four bytes of the IPv4 address. */
function macFor(address: string): string {
  return ['02', '42', ...address.split('.').map((p) => Number(p).toString(16).padStart(2, '0'))].join(':')
}

/** Where a user-defined network's embedded DNS listens: its gateway, or on an overlay this node's address. */
const dnsAddress = (n: NetworkRecord): string => n.overlay?.nodeAddress ?? n.ipam[0]!.gateway

/** Published ports as port bindings again, their host ports kept: what moves with a container's default route. */
function bindingsOf(ports: readonly PortBinding[]): SandboxRequest['portBindings'] {
  const out: SandboxRequest['portBindings'] = {}
  for (const p of ports) (out[`${p.containerPort}/${p.proto}`] ??= []).push({ HostIp: p.anyAddress ? '' : p.hostIp, HostPort: String(p.hostPort) })
  return out
}
