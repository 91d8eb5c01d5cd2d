import type { Credentials } from './auth.ts'
import { RegistryClient } from './client.ts'
import type { RegistryHosts } from './hosts.ts'

/** Hands out registry clients, one per registry and credentials, so pings and tokens are reused. */
export class Registries {
  readonly hosts: RegistryHosts
  readonly #clients = new Map<string, { client: RegistryClient; used: number }>()

  constructor(hosts: RegistryHosts) {
    this.hosts = hosts
  }

  async client(domain: string, creds: Credentials | undefined): Promise<RegistryClient> {
    const key = `${domain}|${JSON.stringify(creds ?? {})}`
    const hit = this.#clients.get(key)
    // A client remembers the scheme it found; start over now and then, in case the registry moved.
    if (hit && Date.now() - hit.used < 10 * 60_000) {
      hit.used = Date.now()
      return hit.client
    }
    const client = new RegistryClient(await this.hosts.resolve(domain), creds)
    this.#clients.set(key, { client, used: Date.now() })
    if (this.#clients.size > 64) this.#clients.delete(this.#clients.keys().next().value!)
    return client
  }

  /**
   * Where to pull from, in order: the registry's mirrors (Docker Hub's `registry-mirrors`), then the registry itself.
   * A mirror gets no credentials: those given are for the registry.
   */
  async pullClients(domain: string, creds: Credentials | undefined): Promise<RegistryClient[]> {
    const mirrors: RegistryClient[] = []
    for (const url of this.hosts.mirrorUrls(domain)) {
      const key = `mirror ${url}`
      const hit = this.#clients.get(key)
      if (hit && Date.now() - hit.used < 10 * 60_000) {
        hit.used = Date.now()
        mirrors.push(hit.client)
        continue
      }
      const client = new RegistryClient(await this.hosts.resolveMirror(url), undefined)
      this.#clients.set(key, { client, used: Date.now() })
      mirrors.push(client)
    }
    return [...mirrors, await this.client(domain, creds)]
  }

  /** Forgets clients for a registry (after a failed login, say). */
  forget(domain: string): void {
    for (const key of [...this.#clients.keys()]) if (key.startsWith(`${domain}|`)) this.#clients.delete(key)
  }
}
