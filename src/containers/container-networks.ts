import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { CaisError, conflict, invalid, messageOf, notFound } from '../lib/errors.ts'
import { type EndpointRequest, NetworkService } from '../networks/service.ts'
import { writeResolvConf } from './etc-files.ts'
import { linkEntry, linkEnvironment, linkHostsLine, parseLink } from './links.ts'
import { portBindingsOf, sharedNetnsPath } from './networking.ts'
import { type ContainerRecord, stringList } from './record.ts'

export interface ContainerNetworksDeps {
  networks: NetworkService
  get(ref: string): ContainerRecord
  /** Runs `fn` under the container's lock. */
  locked<T>(id: string, fn: () => Promise<T>): Promise<T>
  save(rec: ContainerRecord): Promise<void>
}

/**
 * A container's networking as the container service needs it: the namespace and endpoints of a start, legacy
 * links, and network connect and disconnect (live on a running container, recorded for the next start otherwise).
 * The network records themselves are NetworkService's.
 */
export class ContainerNetworks {
  readonly #d: ContainerNetworksDeps

  constructor(deps: ContainerNetworksDeps) {
    this.#d = deps
  }

  /** The namespace the container runs in; for bridge networks, made and wired here, with /etc/hosts and resolv.conf. */
  async start(rec: ContainerRecord): Promise<'host' | 'new' | { path: string }> {
    const mode = rec.hostConfig.NetworkMode
    if (mode === 'host') return 'host'
    if (mode === 'none') return 'new'
    if (mode.startsWith('container:')) {
      const target = this.#d.get(mode.slice('container:'.length))
      const path = sharedNetnsPath(target)
      // Its hosts file and resolver are the other container's too, as of this start.
      await copyFile(target.hostsPath, rec.hostsPath)
      await copyFile(target.resolvConfPath, rec.resolvConfPath)
      return { path }
    }
    const requested = rec.networks ?? { [mode]: {} }
    const sandbox = await this.#d.networks.attach({
      containerId: rec.id,
      name: rec.name.slice(1),
      networks: Object.entries(requested).map(([network, request]) => ({ network, request })),
      portBindings: portBindingsOf(rec),
    })
    const hosts = (await readFile(rec.hostsPath, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '' && !l.endsWith(`\t${rec.config.Hostname}`))
    await writeFile(rec.hostsPath, [...hosts, ...sandbox.addresses.map((a) => `${a}\t${rec.config.Hostname}`)].join('\n') + '\n')
    if (sandbox.nameservers) {
      await writeResolvConf(rec.resolvConfPath, { servers: sandbox.nameservers, search: stringList(rec.hostConfig, 'DnsSearch'), options: stringList(rec.hostConfig, 'DnsOptions') })
    }
    return { path: sandbox.netnsPath }
  }

  /** Whether any network the container is on has IPv6 (a container on none or host has none of its own). */
  hasIpv6(rec: ContainerRecord): boolean {
    if (!NetworkService.isBridgeMode(rec.hostConfig.NetworkMode)) return false
    return Object.keys(rec.networks ?? { [rec.hostConfig.NetworkMode]: {} }).some((name) => {
      try {
        return this.#d.networks.get(name).ipam6 !== undefined
      } catch {
        return false
      }
    })
  }

  /** `--link`s of a new container, checked and kept as Docker keeps them (`/child:/parent/alias`). */
  links(hc: ContainerRecord['hostConfig'], parentName: string): string[] | null {
    const specs = (hc['Links'] as string[] | null | undefined) ?? []
    if (specs.length === 0) return null
    if (hc.NetworkMode === 'host') throw invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
    if (hc.NetworkMode.startsWith('container:')) throw invalid('conflicting options: container type network can\'t be used with links. This would result in undefined behavior')
    return specs.map((spec) => {
      const link = parseLink(spec)
      try {
        link.child = this.#d.get(link.child).name.slice(1)
      } catch (err) {
        // A 400, as Docker's: a 404 at create reads to clients as a missing image, which they go and pull.
        throw invalid(`could not get container for ${link.child}: ${messageOf(err)}`, err)
      }
      return linkEntry(parentName.slice(1), link)
    })
  }

  /**
   * At a start, each linked container (which must run) goes into the container's /etc/hosts under its alias; on
   * the default bridge its address, ports and environment also come as variables, returned for the spec.
   */
  async startLinks(rec: ContainerRecord): Promise<string[]> {
    const specs = (rec.hostConfig['Links'] as string[] | null | undefined) ?? []
    if (specs.length === 0 || !NetworkService.isBridgeMode(rec.hostConfig.NetworkMode)) return []
    const env: string[] = []
    const lines: string[] = []
    const myNetworks = Object.keys(rec.networks ?? { [rec.hostConfig.NetworkMode]: {} })
    for (const spec of specs) {
      const link = parseLink(spec)
      let child: ContainerRecord
      try {
        child = this.#d.get(link.child)
      } catch (err) {
        throw notFound(`could not get container for ${link.child}: ${messageOf(err)}`, err)
      }
      if (!child.state.Running) throw conflict(`Cannot link to a non running container: ${child.name} AS ${rec.name}/${link.alias}`)
      const shared = myNetworks.map((n) => ({ n, view: this.#d.networks.endpointView(n, child.id, child.name.slice(1)) })).find((x) => x.view.IPAddress !== '')
      if (!shared) throw conflict(`Cannot link to ${child.name}, as it does not belong to the default network`)
      lines.push(linkHostsLine(link.alias, child, shared.view.IPAddress))
      if (shared.n === 'bridge') env.push(...linkEnvironment(rec.name.slice(1), link.alias, child, shared.view.IPAddress))
    }
    const kept = (await readFile(rec.hostsPath, 'utf8').catch(() => ''))
      .split('\n')
      .filter((l) => l !== '' && !lines.some((line) => line.split('\t')[1] === l.split('\t')[1]))
    await writeFile(rec.hostsPath, [...kept, ...lines].join('\n') + '\n')
    return env
  }

  /** `docker rm --link /parent/alias`: the parent forgets the link (its running process keeps what it was given). */
  async removeLink(parentRef: string, alias: string): Promise<void> {
    const parent = this.#d.get(parentRef)
    await this.#d.locked(parent.id, async () => {
      const links = (parent.hostConfig['Links'] as string[] | null | undefined) ?? []
      const rest = links.filter((spec) => parseLink(spec).alias !== alias)
      if (rest.length === links.length) throw notFound(`Could not find link ${parent.name}/${alias}`)
      parent.hostConfig = { ...parent.hostConfig, Links: rest.length > 0 ? rest : null }
      await this.#d.save(parent)
    })
  }

  /** `docker network connect`: live for a running container, recorded for its next start otherwise. */
  async connect(ref: string, network: string, request: EndpointRequest): Promise<void> {
    const rec = this.#d.get(ref)
    const n = this.#d.networks.get(network)
    await this.#d.locked(rec.id, async () => {
      if (!NetworkService.isBridgeMode(rec.hostConfig.NetworkMode) || (n.driver !== 'bridge' && n.driver !== 'overlay')) {
        throw new CaisError('forbidden', `container cannot be disconnected from host network or connected to host network`)
      }
      if (rec.networks?.[n.name]) throw new CaisError('forbidden', `endpoint with name ${rec.name.slice(1)} already exists in network ${n.name}`)
      if (n.isDefault && request.aliases?.length) throw invalid('network-scoped alias is supported only for containers in user defined networks')
      const before = rec.networks ?? { [rec.hostConfig.NetworkMode]: {} }
      if (rec.state.Running) {
        const joined = await this.#d.networks.connect(n.name, rec.id, rec.name.slice(1), request, rec.state.Pid, portBindingsOf(rec))
        await this.#afterConnect(rec, Object.keys(before), joined)
      }
      rec.networks = { ...before, [n.name]: request }
      await this.#d.save(rec)
    })
  }

  /**
   * A running container that joined a network: its /etc/hosts gets the new addresses, and one that had no
   * user-defined network so far (the default bridge) switches to the embedded DNS, as Docker's does, so the
   * names of its new network resolve.
   */
  async #afterConnect(rec: ContainerRecord, networksBefore: string[], joined: { addresses: string[]; nameserver: string | undefined }): Promise<void> {
    const hosts = await readFile(rec.hostsPath, 'utf8').catch(() => '')
    await writeFile(rec.hostsPath, hosts + joined.addresses.map((a) => `${a}\t${rec.config.Hostname}\n`).join(''))
    const userDefined = (name: string): boolean => {
      try {
        return !this.#d.networks.get(name).isDefault
      } catch {
        return false
      }
    }
    if (joined.nameserver && !networksBefore.some(userDefined)) {
      await writeResolvConf(rec.resolvConfPath, { servers: [joined.nameserver], search: stringList(rec.hostConfig, 'DnsSearch'), options: stringList(rec.hostConfig, 'DnsOptions') })
    }
  }

  /** `docker network disconnect`. */
  async disconnect(ref: string, network: string): Promise<void> {
    const rec = this.#d.get(ref)
    const n = this.#d.networks.get(network)
    await this.#d.locked(rec.id, async () => {
      const current = rec.networks ?? (NetworkService.isBridgeMode(rec.hostConfig.NetworkMode) ? { [rec.hostConfig.NetworkMode]: {} } : {})
      if (!current[n.name]) throw new CaisError('forbidden', `container ${rec.id} is not connected to network ${n.name}`)
      if (rec.state.Running) await this.#d.networks.disconnect(n.name, rec.id)
      const rest = Object.fromEntries(Object.entries(current).filter(([k]) => k !== n.name))
      // NetworkMode stays as it was, as in Docker: a container disconnected from its only network keeps only its
      // loopback until it is connected again (docker-compose 1.29 disconnects each new container, then connects it
      // with its aliases).
      rec.networks = rest
      await this.#d.save(rec)
    })
  }
}
