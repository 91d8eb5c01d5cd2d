import { invalid } from '../lib/errors.ts'
import { type EndpointRequest, type EndpointView, NetworkService, sandboxPath } from '../networks/service.ts'
import type { ContainerCreateBody, HostConfig } from '../wire/types.ts'
import { parseLink } from './links.ts'
import type { ContainerRecord } from './record.ts'

/**
 * The networks a new container asks for: its NetworkMode (the default bridge, a user network, host, none or
 * container:NAME) and the endpoint settings of NetworkingConfig. Unknown networks are refused at create, as Docker.
 */
export function requestedNetworks(body: ContainerCreateBody, hc: HostConfig, networks: NetworkService, containers: (ref: string) => ContainerRecord): Record<string, EndpointRequest> {
  const mode = hc.NetworkMode
  if (mode.startsWith('container:')) {
    containers(mode.slice('container:'.length))
    if (body.Hostname) throw invalid('conflicting options: hostname and the network mode')
    if ((hc.PortBindings && Object.keys(hc.PortBindings).length > 0) || hc['PublishAllPorts'] === true) {
      throw invalid('conflicting options: port publishing and the container type network mode')
    }
    return {}
  }
  if (mode === 'none' || mode === 'host') return {}
  const primary = networks.get(mode)
  const out: Record<string, EndpointRequest> = {}
  type EndpointConfig = { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null; MacAddress?: string | null; GwPriority?: number | null }
  // The docker CLI names the network it was given, or `default` when it was given none.
  const configs = Object.fromEntries(
    Object.entries((body.NetworkingConfig?.EndpointsConfig ?? {}) as Record<string, EndpointConfig>).map(([k, v]) => [k === 'default' ? primary.name : k, v]),
  )
  for (const [name, cfg] of Object.entries({ [primary.name]: {}, ...configs })) {
    const n = networks.get(name)
    if (n.driver !== 'bridge' && n.driver !== 'overlay') throw invalid(`container cannot be connected to network ${n.name} alongside others`)
    const c: EndpointConfig = configs[name] ?? configs[n.id] ?? cfg
    if (n.isDefault && c.Aliases?.length) throw invalid('network-scoped alias is supported only for containers in user defined networks')
    // Before API 1.44 the MAC address was the container's (Config.MacAddress), for its first network.
    const mac = c.MacAddress || (n.name === primary.name ? (body as { MacAddress?: string }).MacAddress : undefined)
    if (mac) checkMacAddress(mac)
    out[n.name] = {
      ...(c.Aliases?.length ? { aliases: c.Aliases } : {}),
      ...(c.IPAMConfig?.IPv4Address ? { ipv4Address: c.IPAMConfig.IPv4Address } : {}),
      ...(mac ? { macAddress: mac.toLowerCase() } : {}),
      ...(c.GwPriority ? { gwPriority: gwPriorityOf(c.GwPriority) } : {}),
    }
  }
  return out
}

/** An endpoint's GwPriority: an integer, as Go's int decodes it. */
export function gwPriorityOf(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(`json: cannot unmarshal ${typeof v === 'number' ? 'number' : typeof v} into Go struct field EndpointSettings.GwPriority of type int`)
  return v
}

/** `-P`: every exposed port not already bound gets an ephemeral host port. */
export function portBindingsOf(rec: ContainerRecord): Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> {
  const out: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> = { ...(rec.hostConfig.PortBindings ?? {}) }
  if (rec.hostConfig['PublishAllPorts'] === true) {
    for (const p of Object.keys(rec.config.ExposedPorts ?? {})) out[p] ??= [{ HostIp: '', HostPort: '' }]
  }
  return out
}

/** The namespace a `container:NAME` container joins: that container's own network namespace. */
export function sharedNetnsPath(target: ContainerRecord): string {
  if (!target.state.Running) throw invalid(`cannot join network namespace of a non running container: container ${target.id} is ${target.state.Status}`)
  return `/proc/${target.state.Pid}/ns/net`
}

/** One endpoint per network the container is on: `NetworkSettings.Networks` of inspect and of a list entry. */
export function networkEntries(rec: ContainerRecord, networks: NetworkService): Record<string, EndpointView> {
  const mode = rec.hostConfig.NetworkMode
  const name = rec.name.slice(1)
  const names = NetworkService.isBridgeMode(mode) ? Object.keys(rec.networks ?? { [mode]: {} }) : mode.startsWith('container:') ? [] : [mode]
  // On a user-defined network a legacy link is an alias of the child for this container: its endpoint lists them.
  const links = ((rec.hostConfig['Links'] as string[] | null | undefined) ?? []).map(parseLink).map((l) => `${l.child}:${l.alias}`)
  return Object.fromEntries(
    names.map((n) => {
      const view = networks.endpointView(n, rec.id, name)
      return [n, links.length > 0 && n !== 'bridge' ? { ...view, Links: links } : view]
    }),
  )
}

/** `NetworkSettings` of inspect: one entry per network, the published ports, and the legacy top-level fields. */
export function networkSettings(rec: ContainerRecord, networks: NetworkService): Record<string, unknown> {
  const mode = rec.hostConfig.NetworkMode
  const views = networkEntries(rec, networks)
  const ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {}
  for (const p of Object.keys(rec.config.ExposedPorts ?? {})) ports[p] = null
  for (const p of Object.keys(rec.hostConfig.PortBindings ?? {})) ports[p.includes('/') ? p : `${p}/tcp`] = null
  if (rec.state.Running) {
    for (const b of networks.portsOf(rec.id)) {
      const key = `${b.containerPort}/${b.proto}`
      ports[key] = [...(ports[key] ?? []), { HostIp: b.hostIp, HostPort: String(b.hostPort) }]
    }
  }
  const primary = views['bridge']
  return {
    Bridge: '',
    SandboxID: rec.state.Running && NetworkService.isBridgeMode(mode) ? rec.id : '',
    SandboxKey: rec.state.Running && NetworkService.isBridgeMode(mode) ? sandboxPath(rec.id) : '',
    Ports: ports,
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: primary?.EndpointID ?? '',
    Gateway: primary?.Gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: primary?.IPAddress ?? '',
    IPPrefixLen: primary?.IPPrefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: primary?.MacAddress ?? '',
    Networks: views,
  }
}

/** `ps`'s Ports column data. */
export function summaryPorts(rec: ContainerRecord, networks: NetworkService): Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> {
  const out: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> = []
  const bound = rec.state.Running ? networks.portsOf(rec.id) : []
  for (const b of bound) out.push({ IP: b.hostIp, PrivatePort: b.containerPort, PublicPort: b.hostPort, Type: b.proto })
  for (const p of Object.keys(rec.config.ExposedPorts ?? {})) {
    const [port, proto = 'tcp'] = p.split('/')
    if (!bound.some((b) => String(b.containerPort) === port && b.proto === proto)) out.push({ PrivatePort: Number(port), Type: proto })
  }
  return out
}

/** A MAC address as `--mac-address` takes it (`02:42:ac:11:00:02`); anything else is a 400. */
export function checkMacAddress(mac: string): void {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) throw invalid(`invalid MAC address: ${mac}`)
}
