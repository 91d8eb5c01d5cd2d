import type { NetworkRecord } from './record.ts'

/** A network a container is on, with the gateway priority its endpoint asked for (`GwPriority`). */
export interface GatewayCandidate {
  network: NetworkRecord
  gwPriority: number
}

/**
 * The network that gives a container its default route, as Docker's engine picks it: the highest `GwPriority`,
 * then the network's name (so without priorities the first name wins, wherever the container was started or
 * connected). Only bridge networks that are not internal lead out; an overlay has no way out of its subnet. With
 * `family` 6, among the networks with IPv6. Published ports go with the IPv4 choice, as Docker's go with it.
 */
export function gatewayNetwork(candidates: readonly GatewayCandidate[], family: 4 | 6 = 4): NetworkRecord | undefined {
  return candidates
    .filter((c) => c.network.driver === 'bridge' && !c.network.internal && (family === 4 || c.network.ipam6 !== undefined))
    .sort((a, b) => b.gwPriority - a.gwPriority || (a.network.name < b.network.name ? -1 : a.network.name > b.network.name ? 1 : 0))[0]?.network
}
