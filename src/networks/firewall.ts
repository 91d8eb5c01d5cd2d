import { execFile } from '../lib/exec.ts'

/** What cais's own chains must hold: one entry per bridge network, one per published port. */
export interface FirewallState {
  networks: Array<{ bridge: string; subnet: string; internal: boolean }>
  ports: Array<{ proto: 'tcp' | 'udp'; hostIp: string; hostPort: number; containerIp: string; containerPort: number; bridge: string }>
}

/**
 * cais's iptables rules live in its own chains, named from a prefix (`CAIS` by default; tests give each daemon
 * its own): `<P>-POSTROUTING` (masquerade) and `<P>-DNAT` (published ports) in nat, `<P>-FORWARD` and
 * `<P>-ISOLATION` in filter. The built-in chains get one jump each and are never otherwise touched. Every
 * change rewrites the four chains whole with one `iptables-restore --noflush`, which swaps them atomically.
 */
export class Firewall {
  readonly #prefix: string
  readonly #family: 4 | 6
  /** No userland proxy: loopback connections to published ports are DNATed too, and masqueraded into the bridge. */
  readonly #hairpin: boolean
  #jumpsInPlace = false

  /** One per address family: `iptables` for IPv4, `ip6tables` for IPv6, with the same chain names. */
  constructor(prefix: string, family: 4 | 6 = 4, opts: { hairpin?: boolean } = {}) {
    this.#prefix = prefix
    this.#family = family
    this.#hairpin = opts.hairpin ?? false
  }

  get #tool(): string {
    return this.#family === 4 ? 'iptables' : 'ip6tables'
  }

  get chains(): { nat: string[]; filter: string[] } {
    const p = this.#prefix
    return { nat: [`${p}-POSTROUTING`, `${p}-DNAT`], filter: [`${p}-FORWARD`, `${p}-ISOLATION`] }
  }

  /** The jumps from built-in chains, as `[table, chain, ...rule]`. */
  get jumps(): string[][] {
    const p = this.#prefix
    return [
      ['nat', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', `${p}-DNAT`],
      this.#hairpin
        ? ['nat', 'OUTPUT', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', `${p}-DNAT`]
        : ['nat', 'OUTPUT', '!', '-d', this.#family === 4 ? '127.0.0.0/8' : '::1/128', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', `${p}-DNAT`],
      ['nat', 'POSTROUTING', '-j', `${p}-POSTROUTING`],
      ['filter', 'FORWARD', '-j', `${p}-FORWARD`],
    ]
  }

  render(s: FirewallState): string {
    const p = this.#prefix
    const nat = [`*nat`, ...this.chains.nat.map((c) => `:${c} - [0:0]`)]
    const filter = [`*filter`, ...this.chains.filter.map((c) => `:${c} - [0:0]`)]
    for (const n of s.networks) {
      if (!n.internal) nat.push(`-A ${p}-POSTROUTING -s ${n.subnet} ! -o ${n.bridge} -j MASQUERADE`)
      // A loopback client's packets keep 127.0.0.1 as their source after DNAT: the container could not answer it.
      if (this.#hairpin) nat.push(`-A ${p}-POSTROUTING -o ${n.bridge} -m addrtype --src-type LOCAL -j MASQUERADE`)
      nat.push(`-A ${p}-DNAT -i ${n.bridge} -j RETURN`)
    }
    for (const port of s.ports) {
      const dst = port.hostIp === '0.0.0.0' || port.hostIp === '' ? '' : ` -d ${port.hostIp}`
      nat.push(`-A ${p}-DNAT${dst} ! -i ${port.bridge} -p ${port.proto} -m ${port.proto} --dport ${port.hostPort} -j DNAT --to-destination ${port.containerIp}:${port.containerPort}`)
    }
    filter.push(`-A ${p}-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`)
    for (const port of s.ports) {
      filter.push(`-A ${p}-FORWARD -d ${port.containerIp}/${this.#family === 4 ? 32 : 128} ! -i ${port.bridge} -o ${port.bridge} -p ${port.proto} -m ${port.proto} --dport ${port.containerPort} -j ACCEPT`)
    }
    for (const n of s.networks) {
      filter.push(`-A ${p}-FORWARD -i ${n.bridge} -o ${n.bridge} -j ACCEPT`)
      if (n.internal) {
        filter.push(`-A ${p}-FORWARD -i ${n.bridge} -j DROP`, `-A ${p}-FORWARD -o ${n.bridge} -j DROP`)
        continue
      }
      filter.push(`-A ${p}-FORWARD -i ${n.bridge} ! -o ${n.bridge} -j ${p}-ISOLATION`, `-A ${p}-FORWARD -i ${n.bridge} -j ACCEPT`)
      // Traffic from one cais network into another is dropped: networks are isolated from each other.
      filter.push(`-A ${p}-ISOLATION -o ${n.bridge} -j DROP`)
    }
    return [...nat, 'COMMIT', ...filter, 'COMMIT', ''].join('\n')
  }

  async apply(s: FirewallState): Promise<void> {
    const r = await execFile(`${this.#tool}-restore`, ['-w', '--noflush'], { input: this.render(s) })
    if (r.code !== 0) throw new Error(`${this.#tool}-restore: ${r.stderr.trim()}`)
    if (this.#jumpsInPlace) return
    for (const [table, chain, ...rule] of this.jumps) {
      const check = await execFile(this.#tool, ['-w', '-t', table!, '-C', chain!, ...rule])
      if (check.code === 0) continue
      const add = await execFile(this.#tool, ['-w', '-t', table!, '-I', chain!, '1', ...rule])
      if (add.code !== 0) throw new Error(`${this.#tool} -t ${table} -I ${chain}: ${add.stderr.trim()}`)
    }
    this.#jumpsInPlace = true
  }
}
