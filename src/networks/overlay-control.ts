/** An overlay network as every node of the cluster knows it. */
export interface OverlayDefinition {
  id: string
  name: string
  subnet: string
  vni: number
  /** The node that created it (for inspect; any node may attach containers, allocate addresses or remove it). */
  owner: string
  labels: Record<string, string>
  created: string
}

/** A container on an overlay network, as announced by the node it runs on. */
export interface RemoteEndpoint {
  containerId: string
  name: string
  aliases: string[]
  address: string
  node: string
}

/** What the cluster's shared state asks of this node's network service when it changes. */
export interface OverlayHandlers {
  defineNetwork(def: OverlayDefinition): Promise<void>
  forgetNetwork(id: string): Promise<void>
  addRemote(id: string, e: RemoteEndpoint): Promise<void>
  removeRemote(id: string, containerId: string): Promise<void>
  /**
   * The whole shared state, read anew (at start, after a lost watch): networks not yet here are made, overlays
   * gone from the store are dropped (unless a container here still uses one), and each network's remote
   * endpoints become exactly those listed.
   */
  resync(networks: readonly OverlayDefinition[], endpoints: ReadonlyMap<string, readonly RemoteEndpoint[]>): Promise<void>
  /** The other nodes' VXLAN addresses changed (a node joined or its lease expired). */
  peersChanged(addresses: readonly string[]): Promise<void>
  /** This node's own endpoints, announced again after the node registers anew (a new lease). */
  localEndpoints(): Array<{ network: string; endpoint: RemoteEndpoint }>
}

/**
 * The state overlay networks share across nodes — definitions, address allocation, endpoints, membership — kept
 * by the cluster store (src/cluster/overlay-store.ts) and reached by the network service only through this.
 */
export interface OverlayControl {
  /** This node's name in the cluster: its advertised address, whose IP ends its VXLAN tunnels. */
  readonly self: string
  /** The other live nodes' VXLAN addresses. */
  peerAddresses(): readonly string[]
  /** Learns every network and endpoint, then follows changes, calling `handlers`. */
  start(handlers: OverlayHandlers): Promise<void>
  close(): void
  /** Defines a network for every node; a name already taken anywhere is a conflict. */
  publishNetwork(def: OverlayDefinition): Promise<void>
  /** Removes a network everywhere; refused while any node has an endpoint on it. */
  unpublishNetwork(def: { id: string; name: string }): Promise<void>
  /** An address of the network for `holder`, never one held by anyone else (`want` or the first free). */
  allocate(networkId: string, subnet: string, holder: string, want?: string): Promise<string>
  release(networkId: string, address: string): Promise<void>
  announce(networkId: string, endpoint: RemoteEndpoint): Promise<void>
  withdraw(networkId: string, containerId: string): Promise<void>
}

/** The IP part of a node name (`IP[:PORT]`): where its VXLAN tunnel ends. */
export function addressOf(node: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(node)
  if (m) return m[1]!
  return /^[0-9.]+:\d+$/.test(node) ? node.slice(0, node.lastIndexOf(':')) : node
}
