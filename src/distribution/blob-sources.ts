import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Digest } from '../content/digest.ts'
import { removeTempFiles, writeJsonAtomic } from '../store/atomic.ts'
import { readRecord } from '../store/records.ts'

const maxSourcesPerBlob = 8

/**
 * Where each blob is known to live remotely (`registry/repository`), learned from pulls and pushes, so a push
 * can ask the registry to mount a blob from a sibling repository instead of uploading it again.
 */
export class BlobSources {
  readonly #path: string
  readonly #sources = new Map<Digest, string[]>()
  #writing: Promise<void> = Promise.resolve()

  constructor(path: string) {
    this.#path = path
  }

  async init(): Promise<void> {
    await mkdir(dirname(this.#path), { recursive: true })
    await removeTempFiles(dirname(this.#path))
    // A cache of where blobs were seen: one that cannot be read starts empty (pushes upload instead of mounting).
    const read = await readRecord<Record<Digest, string[]>>(this.#path, (x) => typeof x === 'object' && x !== null && !Array.isArray(x))
    const saved = 'record' in read ? read.record : {}
    for (const [d, s] of Object.entries(saved)) if (Array.isArray(s)) this.#sources.set(d as Digest, s)
  }

  /** Repositories of `registry` known to hold `digest`. */
  repositories(digest: Digest, registry: string): string[] {
    return (this.#sources.get(digest) ?? []).filter((s) => s.startsWith(`${registry}/`)).map((s) => s.slice(registry.length + 1))
  }

  async add(digests: Digest[], registry: string, repo: string): Promise<void> {
    const source = `${registry}/${repo}`
    for (const d of digests) {
      const list = (this.#sources.get(d) ?? []).filter((s) => s !== source)
      list.unshift(source)
      this.#sources.set(d, list.slice(0, maxSourcesPerBlob))
    }
    await this.#save()
  }

  /** Drops blobs that are no longer stored. */
  async retain(keep: (d: Digest) => boolean): Promise<void> {
    let changed = false
    for (const d of [...this.#sources.keys()]) if (!keep(d)) changed = this.#sources.delete(d) || changed
    if (changed) await this.#save()
  }

  #save(): Promise<void> {
    this.#writing = this.#writing.catch(() => {}).then(() => writeJsonAtomic(this.#path, Object.fromEntries(this.#sources)))
    return this.#writing
  }
}
