import { readdir, readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { defaultDomain } from '../images/reference.ts'

/** How to reach one registry: where its API lives, whether plain HTTP or unverified TLS is allowed, and its TLS files. */
export interface RegistryHost {
  /** The name as references spell it: `docker.io`, `localhost:5000`. */
  name: string
  /** `host[:port]` the API is served from (Docker Hub's is registry-1.docker.io). */
  address: string
  /** Listed as insecure (or loopback): HTTPS without verification, then plain HTTP, are allowed. */
  insecure: boolean
  tls: { ca?: Buffer[]; cert?: Buffer; key?: Buffer }
  /** The one scheme to use, for a mirror whose URL names it; otherwise HTTPS, then HTTP when insecure. */
  scheme?: 'http' | 'https'
}

export interface RegistryHostsOptions {
  /** `--insecure-registry` entries: `host[:port]` or a CIDR. */
  insecureRegistries: readonly string[]
  /** Per-registry TLS files, laid out as Docker's certs.d: `<dir>/<host[:port]>/{*.crt,*.cert,*.key}`. */
  certsDir: string
  /** `registry-mirrors`: URLs tried in order before Docker Hub for its pulls. */
  registryMirrors: readonly string[]
}

/** Docker Hub's index name, which `docker login` and config.json use for docker.io. */
export const dockerHubIndex = 'https://index.docker.io/v1/'

export class RegistryHosts {
  readonly #opts: RegistryHostsOptions

  constructor(opts: RegistryHostsOptions) {
    this.#opts = opts
  }

  async resolve(name: string): Promise<RegistryHost> {
    const address = name === defaultDomain ? 'registry-1.docker.io' : name
    return { name, address, insecure: this.isInsecure(name), tls: await this.#tlsFiles(name) }
  }

  /** The mirrors of a registry, in the order to try them: Docker Hub's from `registry-mirrors`, none for others. */
  mirrorUrls(name: string): readonly string[] {
    return name === defaultDomain ? this.#opts.registryMirrors : []
  }

  /** How to reach a mirror: only the scheme its URL names, with the TLS files of its host. */
  async resolveMirror(mirror: string): Promise<RegistryHost> {
    const url = new URL(mirror)
    return { name: url.host, address: url.host, insecure: this.isInsecure(url.host), tls: await this.#tlsFiles(url.host), scheme: url.protocol === 'http:' ? 'http' : 'https' }
  }

  /** Loopback (127.0.0.0/8, ::1, localhost) is always insecure, as Docker's default `127.0.0.0/8`. */
  isInsecure(name: string): boolean {
    const host = hostOf(name)
    if (host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'))) return true
    for (const entry of this.#opts.insecureRegistries) {
      if (entry === name || entry === host) return true
      if (entry.includes('/') && isIP(host) === 4 && inCidr(host, entry)) return true
    }
    return false
  }

  async #tlsFiles(name: string): Promise<RegistryHost['tls']> {
    const dir = join(this.#opts.certsDir, name)
    let files: string[]
    try {
      files = await readdir(dir)
    } catch {
      return {}
    }
    const tls: RegistryHost['tls'] = {}
    for (const f of files.sort()) {
      if (f.endsWith('.crt')) (tls.ca ??= []).push(await readFile(join(dir, f)))
      else if (f.endsWith('.cert')) tls.cert = await readFile(join(dir, f))
      else if (f.endsWith('.key')) tls.key = await readFile(join(dir, f))
    }
    return tls
  }
}

/** `host` of `host[:port]`, with IPv6 brackets removed. */
export function hostOf(name: string): string {
  if (name.startsWith('[')) return name.slice(1, name.indexOf(']'))
  const colon = name.lastIndexOf(':')
  return colon > 0 ? name.slice(0, colon) : name
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/')
  const bits = Number(bitsText)
  if (!base || isIP(base) !== 4 || !Number.isInteger(bits) || bits < 0 || bits > 32) return false
  const toInt = (s: string): number => s.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
  return (toInt(ip) & mask) === (toInt(base) & mask)
}

/**
 * A `registry-mirrors` entry as Docker accepts it: an http or https URL of a host, without credentials, path, query or
 * fragment. Returns it with a trailing slash, as Docker shows mirrors.
 */
export function normalizeMirror(mirror: string): string {
  let url: URL
  try {
    url = new URL(mirror)
  } catch {
    throw new Error(`invalid mirror: "${mirror}" is not a valid URI`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`invalid mirror: unsupported scheme "${url.protocol.slice(0, -1)}" in "${mirror}"`)
  if (url.username || url.password) throw new Error(`invalid mirror: username/password not allowed in URI "${mirror}"`)
  if (url.pathname !== '/' || url.search || url.hash) throw new Error(`invalid mirror: path, query, or fragment at end of the URI "${mirror}"`)
  return `${url.protocol}//${url.host}/`
}
