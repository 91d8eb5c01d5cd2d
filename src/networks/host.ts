import { readFile, rm, writeFile } from 'node:fs/promises'
import { execFile, run } from '../lib/exec.ts'
import type { Mounter } from '../lib/mounter.ts'

/**
 * The host side of networking, through iproute2: bridges, per-container network namespaces (named, under
 * /run/netns, so they outlive caisd as the containers do) and veth pairs. Each step is one `ip -batch` spawn, but
 * a namespace's removal, which is an unmount and an unlink.
 */

export const netnsPath = (name: string): string => `/run/netns/${name}`

async function ipBatch(lines: string[], opts: { netns?: string; force?: boolean } = {}): Promise<void> {
  const args = [...(opts.netns ? ['-n', opts.netns] : []), ...(opts.force ? ['-force'] : []), '-batch', '-']
  const r = await execFile('ip', args, { input: lines.join('\n') + '\n' })
  if (r.code !== 0) throw new Error(`ip ${lines.join('; ')}: ${r.stderr.trim() || `exit status ${r.code}`}`)
}

export async function linkExists(name: string): Promise<boolean> {
  return (await execFile('ip', ['link', 'show', 'dev', name])).code === 0
}

/** Creates the bridge with its gateway address (idempotent) and brings it up. */
export async function ensureBridge(name: string, gatewayCidr: string, mtu?: number, gateway6Cidr?: string): Promise<void> {
  if (!(await linkExists(name))) await ipBatch([`link add name ${name}${mtu ? ` mtu ${mtu}` : ''} type bridge`])
  const addrs = await run('ip', ['-o', 'addr', 'show', 'dev', name])
  const lines = addrs.includes(` ${gatewayCidr} `) ? [] : [`addr add ${gatewayCidr} dev ${name}`]
  // nodad: usable at once, rather than "tentative" for the second duplicate address detection takes.
  if (gateway6Cidr && !addrs.includes(` ${gateway6Cidr} `)) lines.push(`addr add ${gateway6Cidr} dev ${name} nodad`)
  await ipBatch([...lines, ...(await pinBridgeAddress(name)), `link set ${name} up`])
}

/**
 * A bridge whose MAC address was never set takes the lowest of its ports' and changes as containers come and go;
 * the containers' ARP entries for its address (their gateway and DNS server) then point at a port's MAC, whose
 * frames the bridge takes but does not accept, until the entry is probed again, up to a minute later. Set, even to
 * what it is now, it stays, as Docker's bridges keep theirs. Returns the `ip` line that sets it.
 */
async function pinBridgeAddress(name: string): Promise<string[]> {
  const mac = /link\/ether ([0-9a-f:]{17})/.exec(await run('ip', ['-o', 'link', 'show', 'dev', name]))?.[1]
  return mac ? [`link set ${name} address ${mac}`] : []
}

export async function removeLink(name: string): Promise<void> {
  if (await linkExists(name)) await execFile('ip', ['link', 'del', 'dev', name])
}

export interface VethEndpoint {
  /** Host end, enslaved to the bridge. */
  hostIf: string
  /** Name inside the container: eth0, eth1… */
  containerIf: string
  bridge: string
  address: string
  mac: string
  prefix: number
  gateway?: string
  address6?: { address: string; prefix: number; gateway?: string }
  mtu?: number
}

/** Creates the container's namespace with loopback up; `ip netns add` bind-mounts it under /run/netns. */
export async function createSandbox(netns: string): Promise<void> {
  await ipBatch([`netns add ${netns}`])
  await ipBatch(['link set lo up'], { netns })
}

/**
 * Adds a veth between the bridge and the container's namespace, with its address and, given a `gateway`, the
 * default route. With `createNamespace` the namespace is made in the same two `ip` runs (one on the host
 * side, one inside), which is most of what a start on a bridge network costs.
 */
export async function addEndpoint(netns: string, e: VethEndpoint, opts: { createNamespace?: boolean } = {}): Promise<void> {
  const mtu = e.mtu ? ` mtu ${e.mtu}` : ''
  await ipBatch([
    ...(opts.createNamespace ? [`netns add ${netns}`] : []),
    `link add name ${e.hostIf}${mtu} type veth peer name ${e.containerIf}${mtu} address ${e.mac} netns ${netns}`,
    `link set ${e.hostIf} master ${e.bridge}`,
    `link set ${e.hostIf} up`,
  ])
  await ipBatch(
    [
      ...(opts.createNamespace ? ['link set lo up'] : []),
      `addr add ${e.address}/${e.prefix} dev ${e.containerIf}`,
      ...(e.address6 ? [`addr add ${e.address6.address}/${e.address6.prefix} dev ${e.containerIf} nodad`] : []),
      `link set ${e.containerIf} up`,
      // Replace: a network connected later can take the default route over from the one that had it.
      ...(e.gateway ? [`route replace default via ${e.gateway}`] : []),
      ...(e.address6?.gateway ? [`route replace ::/0 via ${e.address6.gateway}`] : []),
    ],
    { netns },
  )
}

/** Points the namespace's default route (`default` or `::/0`) at another gateway. */
export async function setDefaultRoute(netns: string, destination: 'default' | '::/0', gateway: string): Promise<void> {
  await ipBatch([`route replace ${destination} via ${gateway}`], { netns })
}

export async function removeEndpoint(hostIf: string): Promise<void> {
  await execFile('ip', ['link', 'del', 'dev', hostIf])
}

/**
 * Removes the namespace; its veth ends go with it. Missing is fine. What `ip netns delete` does: the bind mount
 * under /run/netns goes (detached when busy), then its file; the kernel frees the namespace once nothing holds it.
 */
/** Names again the namespace of a running process (`ip netns attach`): for a sandbox whose name was deleted from the host. */
export async function reattachSandbox(netns: string, pid: number): Promise<void> {
  await ipBatch([`netns attach ${netns} ${pid}`])
}

export async function removeSandbox(netns: string, mounter: Mounter): Promise<void> {
  await mounter.unmount(netnsPath(netns))
  await rm(netnsPath(netns), { force: true })
}

export async function sandboxExists(netns: string): Promise<boolean> {
  return readFile(netnsPath(netns)).then(
    () => true,
    (err: NodeJS.ErrnoException) => err.code !== 'ENOENT',
  )
}

/** Routes on the host, as subnets, so new networks can avoid them. */
export async function hostRoutes(): Promise<string[]> {
  const out = await run('ip', ['-o', '-4', 'route', 'show', 'table', 'all'])
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((d) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(d))
    .map((d) => (d.includes('/') ? d : `${d}/32`))
}

/** Containers reach the outside through NAT only when the host forwards IPv4, as Docker turns on. */
export async function enableForwarding(family: 4 | 6 = 4): Promise<void> {
  const path = family === 4 ? '/proc/sys/net/ipv4/ip_forward' : '/proc/sys/net/ipv6/conf/all/forwarding'
  if ((await readFile(path, 'utf8')).trim() !== '1') await writeFile(path, '1\n')
}

/**
 * The data plane of an overlay network on this node: a bridge and a VXLAN device in it. Learning stays on;
 * broadcast and unknown frames go to every peer (head-end replication through all-zero FDB entries).
 */
export async function ensureOverlay(bridge: string, vxlan: string, vni: number, local: string, peers: readonly string[], mtu: number): Promise<void> {
  if (!(await linkExists(bridge))) await ipBatch([`link add name ${bridge} mtu ${mtu} type bridge`])
  if (!(await linkExists(vxlan))) {
    await ipBatch([`link add name ${vxlan} mtu ${mtu} type vxlan id ${vni} dstport 4789 local ${local}`, `link set ${vxlan} master ${bridge}`])
  }
  await ipBatch([...(await pinBridgeAddress(bridge)), `link set ${vxlan} up`, `link set ${bridge} up`])
  // Only added here: at a daemon's start the peers are not known yet, and the tunnels must not drop meanwhile.
  for (const peer of peers) await execFile('bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', vxlan, 'dst', peer])
}

/** The VXLAN's flooding entries (all-zero MAC) go to exactly these peers: missing ones added, stale ones removed. */
export async function setOverlayPeers(vxlan: string, peers: readonly string[]): Promise<void> {
  const fdb = await execFile('bridge', ['fdb', 'show', 'dev', vxlan])
  const present = new Set([...fdb.stdout.matchAll(/^00:00:00:00:00:00 dst (\S+)/gm)].map((m) => m[1]!))
  for (const peer of peers) if (!present.has(peer)) await execFile('bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', vxlan, 'dst', peer])
  for (const gone of present) if (!peers.includes(gone)) await execFile('bridge', ['fdb', 'del', '00:00:00:00:00:00', 'dev', vxlan, 'dst', gone])
}

/** Sets one of a link's IPv4 settings (`net.ipv4.conf.<link>.<key>`); they go with the link. */
export async function setLinkSysctl(link: string, key: string, value: string): Promise<void> {
  const path = `/proc/sys/net/ipv4/conf/${link}/${key}`
  if ((await readFile(path, 'utf8')).trim() !== value) await writeFile(path, `${value}\n`)
}

/** Takes an address off a link, when it has it (the default bridge's old IPv6 gateway). */
export async function removeAddress(dev: string, cidr: string): Promise<void> {
  await execFile('ip', ['addr', 'del', cidr, 'dev', dev])
}

/** Gives a bridge one more address (idempotent). */
export async function addAddress(dev: string, cidr: string): Promise<void> {
  const addrs = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', dev])
  if (!addrs.includes(` ${cidr} `)) await ipBatch([`addr add ${cidr} dev ${dev}`])
}
