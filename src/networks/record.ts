/** One IPv4 pool of a network: its subnet, gateway (on the bridge) and the range containers get addresses from. */
export interface IpamPool {
  subnet: string
  gateway: string
  ipRange?: string
  /** Addresses the network's owner reserved by name (`--aux-address host1=10.0.0.5`): never handed out. */
  auxAddresses?: Record<string, string>
}

import type { RemoteEndpoint } from './overlay-control.ts'
import type { PortBinding } from './port-proxy.ts'

/** A container's attachment to one network, kept while the container runs (and across daemon restarts). */
export interface Endpoint {
  id: string
  containerId: string
  /** The container's name, without Docker's leading slash: what DNS answers for. */
  name: string
  aliases: string[]
  address: string
  /** On a network with IPv6. */
  address6?: string
  mac: string
  /** What the container asked for (`--ip`): inspect shows it as the endpoint's IPAMConfig. */
  requestedAddress?: string
  /** Its `GwPriority`: the container's default route goes through the network whose endpoint has the highest. */
  gwPriority?: number
  /** The veth end on the host, and the interface name inside the container. */
  hostIf: string
  ifName: string
  /** Published ports, with the host ports actually bound. */
  ports: PortBinding[]
}

/**
 * A network as caisd keeps it in `<root>/networks/<id>.json`. Its endpoints hold the addresses handed out, so
 * addresses, names and published ports survive a daemon restart.
 */
export interface NetworkRecord {
  id: string
  name: string
  /** `bridge` for cais0 and user-defined bridges, `overlay` across nodes; `host` and `null` for the built-in modes. */
  driver: 'bridge' | 'overlay' | 'host' | 'null'
  created: string
  /** `local` for single-host networks; `swarm` for overlays, as Docker names them. */
  scope: 'local' | 'swarm'
  internal: boolean
  attachable: boolean
  /** The default bridge: no embedded DNS, names only through links. */
  isDefault: boolean
  labels: Record<string, string>
  options: Record<string, string>
  /** The Linux bridge device, for the bridge driver. */
  bridge?: string
  mtu?: number
  ipam: IpamPool[]
  /** The IPv6 pool of a network created with `--ipv6`. */
  ipam6?: IpamPool
  /** By container ID. */
  endpoints: Record<string, Endpoint>
  overlay?: OverlayState
}

/** What an overlay network adds: its VXLAN, and the containers other nodes run on it. */
export interface OverlayState {
  vni: number
  vxlan: string
  /** The node that created it. */
  owner: string
  /** This node's address on the network, held by its bridge; its embedded DNS listens there. */
  nodeAddress?: string
  remote: Record<string, RemoteEndpoint>
}
