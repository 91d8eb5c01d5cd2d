import { createHash } from 'node:crypto'
import { chmod, chown, mkdir, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Digest } from '../content/digest.ts'
import { diskUsage } from '../lib/disk-usage.ts'
import { isTempFile, readJson, writeFileAtomic, writeJsonAtomic } from '../store/atomic.ts'

/**
 * The build cache: for each step a build ran, the image it produced, keyed on what decides that image (the
 * parent image, the instruction with its expanded arguments, and for COPY and ADD the content of the files).
 * A record is one file, written atomically: after a crash an entry is whole or absent.
 */
export interface CacheRecord {
  key: string
  image: Digest
  /** The step, for `system df -v` and prune filters. */
  description: string
  /** Unix ms. */
  created: number
  lastUsed: number
  /** Bytes of the step's own layer. */
  size: number
}

/** A `RUN --mount=type=cache` directory, kept between builds. */
export interface CacheMount {
  id: string
  dir: string
}

export function cacheKey(...parts: string[]): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(`${p}\0`)
  return h.digest('hex')
}

export class BuildCache {
  readonly #records: string
  readonly #mounts: string
  readonly #cache = new Map<string, CacheRecord>()
  /** Cache mounts: steps using each, and the step holding a `locked` one. */
  readonly #mountUsers = new Map<string, number>()
  readonly #mountLocks = new Map<string, Promise<void>>()

  constructor(dir: string) {
    this.#records = join(dir, 'cache')
    this.#mounts = join(dir, 'mounts')
  }

  async init(): Promise<void> {
    await mkdir(this.#records, { recursive: true })
    await mkdir(this.#mounts, { recursive: true })
    for (const name of await readdir(this.#records)) {
      if (isTempFile(name)) {
        await rm(join(this.#records, name), { force: true })
        continue
      }
      // A record a machine crash cut short (its last-use updates are not synced) is only a lost cache hit.
      const rec = await readJson<CacheRecord>(join(this.#records, name)).catch(() => undefined)
      if (rec?.key) this.#cache.set(rec.key, rec)
      else await rm(join(this.#records, name), { force: true })
    }
  }

  get(key: string): CacheRecord | undefined {
    return this.#cache.get(key)
  }

  all(): CacheRecord[] {
    return [...this.#cache.values()]
  }

  async put(rec: CacheRecord): Promise<void> {
    await writeJsonAtomic(join(this.#records, `${rec.key}.json`), rec)
    this.#cache.set(rec.key, rec)
  }

  /** Records a hit. Not synced: it decides only which entries a prune takes first. */
  async touch(rec: CacheRecord): Promise<void> {
    const used = { ...rec, lastUsed: Date.now() }
    this.#cache.set(rec.key, used)
    await writeFileAtomic(join(this.#records, `${rec.key}.json`), JSON.stringify(used), 0o600, { durable: false })
    // A prune that came meanwhile wins.
    if (!this.#cache.has(rec.key)) await rm(join(this.#records, `${rec.key}.json`), { force: true })
  }

  async remove(key: string): Promise<void> {
    this.#cache.delete(key)
    await rm(join(this.#records, `${key}.json`), { force: true })
  }

  /**
   * The directory a `RUN --mount=type=cache` mounts, by its sharing mode: `shared`, the cache's own, whoever else
   * uses it; `locked`, the cache's own once no other step holds it; `private`, the cache's own unless another step
   * is using it, else a fresh one in `scratch`. A new cache gets the mount's owner and mode. `release` after the step.
   */
  async useMount(m: { id: string; sharing: 'shared' | 'private' | 'locked'; uid: number; gid: number; mode: number }, scratch: string): Promise<{ dir: string; release: () => void }> {
    if (m.sharing === 'private' && (this.#mountUsers.get(m.id) ?? 0) > 0) {
      const own = join(scratch, `cache-${cacheKey('mount', m.id).slice(0, 16)}`)
      await mkdir(own, { recursive: true, mode: m.mode })
      await chown(own, m.uid, m.gid)
      return { dir: own, release: () => {} }
    }
    let unlock = (): void => {}
    if (m.sharing === 'locked') {
      for (let held = this.#mountLocks.get(m.id); held; held = this.#mountLocks.get(m.id)) await held
      let resolve!: () => void
      this.#mountLocks.set(m.id, new Promise<void>((r) => (resolve = r)))
      unlock = () => {
        this.#mountLocks.delete(m.id)
        resolve()
      }
    }
    this.#mountUsers.set(m.id, (this.#mountUsers.get(m.id) ?? 0) + 1)
    const release = (): void => {
      this.#mountUsers.set(m.id, (this.#mountUsers.get(m.id) ?? 1) - 1)
      unlock()
    }
    try {
      const dir = join(this.#mounts, cacheKey('mount', m.id).slice(0, 32))
      const fresh = await mkdir(dir, { recursive: true, mode: m.mode })
      if (fresh !== undefined) {
        await chown(dir, m.uid, m.gid)
        await chmod(dir, m.mode)
      }
      return { dir, release }
    } catch (err) {
      release()
      throw err
    }
  }

  async mounts(): Promise<Array<CacheMount & { size: number; lastUsed: number }>> {
    const out: Array<CacheMount & { size: number; lastUsed: number }> = []
    for (const name of await readdir(this.#mounts)) {
      const dir = join(this.#mounts, name)
      const st = await stat(dir).catch(() => undefined)
      if (!st?.isDirectory()) continue
      out.push({ id: name, dir, size: await diskUsage(dir), lastUsed: st.mtimeMs })
    }
    return out
  }

  async removeMount(id: string): Promise<void> {
    await rm(join(this.#mounts, id), { recursive: true, force: true })
  }
}
