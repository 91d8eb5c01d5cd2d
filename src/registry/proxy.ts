import { type Digest, DigestingStream, digestOf } from '../content/digest.ts'
import type { Credentials } from '../distribution/auth.ts'
import { RegistryClient, manifestAccept, pullScope } from '../distribution/client.ts'
import type { RegistryStorage } from './storage.ts'

/**
 * Pull-through cache of an upstream registry (Docker Hub by default), as distribution's proxy mode: a manifest asked
 * by tag is looked up upstream first (the tag may have moved) and served from the cache when upstream cannot be
 * reached; a manifest by digest and a blob are fetched once, checked against their digest, and kept.
 */
export class UpstreamCache {
  readonly #client: RegistryClient
  readonly #storage: RegistryStorage
  readonly upstream: string

  constructor(upstream: string, storage: RegistryStorage, creds?: Credentials) {
    const url = new URL(upstream === 'docker.io' || upstream === '' ? 'https://registry-1.docker.io' : /^https?:\/\//.test(upstream) ? upstream : `https://${upstream}`)
    this.upstream = url.origin
    this.#client = new RegistryClient({ name: url.host, address: url.host, insecure: url.protocol === 'http:', tls: {} }, creds)
    this.#storage = storage
  }

  /** Makes the manifest present in the cache; undefined when upstream has none (or cannot be reached, for a tag). */
  async manifest(repo: string, ref: string, byDigest: boolean): Promise<Digest | undefined> {
    let res
    try {
      res = await this.#client.request('GET', `/v2/${repo}/manifests/${ref}`, { headers: { Accept: manifestAccept }, scopes: [pullScope(repo)], ok: [200, 404] })
    } catch (err) {
      if (byDigest) throw err
      return undefined // upstream away: the cached tag serves
    }
    const chunks: Buffer[] = []
    for await (const c of res.body as AsyncIterable<Buffer>) chunks.push(c)
    if (res.status === 404) return undefined
    const body = Buffer.concat(chunks)
    const digest = digestOf(body)
    if (byDigest && digest !== ref) throw new Error(`upstream manifest ${ref} has digest ${digest}`)
    const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim() || (JSON.parse(body.toString('utf8')) as { mediaType?: string }).mediaType || ''
    await this.#storage.putBlob(digest, body)
    await this.#storage.putManifest(repo, digest, mediaType)
    if (!byDigest) await this.#storage.tag(repo, ref, digest)
    return digest
  }

  /** Makes the blob present in the cache (fetched whole, its digest checked); false when upstream has none. */
  async blob(repo: string, digest: Digest): Promise<boolean> {
    const res = await this.#client.request('GET', `/v2/${repo}/blobs/${digest}`, { scopes: [pullScope(repo)], ok: [200, 404] })
    if (res.status === 404) {
      res.body.resume()
      return false
    }
    const id = await this.#storage.startUpload(repo)
    const hasher = new DigestingStream()
    try {
      await this.#storage.appendUpload(id, res.body, hasher)
      if (hasher.digest() !== digest) throw new Error(`upstream blob ${digest} has digest ${hasher.digest()}`)
      await this.#storage.commitUpload(id, digest, repo)
      return true
    } catch (err) {
      await this.#storage.cancelUpload(id)
      throw err
    }
  }
}
