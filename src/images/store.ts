import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Digest } from '../content/digest.ts'
import { hexOf } from '../content/digest.ts'
import { isTempFile, readJson, writeFileAtomic, writeJsonAtomic } from '../store/atomic.ts'
import type { ImageRecord } from './types.ts'

/**
 * Image records (`<images>/<id hex>.json`) and the reference map (`repositories.json`:
 * normalised reference → image ID). Both are read once at start and kept in memory.
 */
export class ImageStore {
  readonly #dir: string
  readonly #refsPath: string
  readonly records = new Map<Digest, ImageRecord>()
  readonly refs = new Map<string, Digest>()

  constructor(dir: string, refsPath: string) {
    this.#dir = dir
    this.#refsPath = refsPath
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    for (const name of await readdir(this.#dir)) {
      if (isTempFile(name) || !/^[a-f0-9]{64}\.json$/.test(name)) continue
      const rec = await readJson<ImageRecord>(join(this.#dir, name))
      if (rec) this.records.set(rec.id, rec)
    }
    const refs = (await readJson<{ refs: Record<string, Digest> }>(this.#refsPath))?.refs ?? {}
    for (const [ref, id] of Object.entries(refs)) if (this.records.has(id)) this.refs.set(ref, id)
  }

  /** `durable: false` for a change whose loss in a machine crash costs nothing (a tag time). */
  async put(rec: ImageRecord, opts: { durable?: boolean } = {}): Promise<void> {
    await writeFileAtomic(join(this.#dir, `${hexOf(rec.id)}.json`), JSON.stringify(rec), 0o600, opts)
    this.records.set(rec.id, rec)
  }

  async delete(id: Digest): Promise<void> {
    this.records.delete(id)
    await rm(join(this.#dir, `${hexOf(id)}.json`), { force: true })
  }

  refsOf(id: Digest): string[] {
    return [...this.refs].filter(([, v]) => v === id).map(([k]) => k)
  }

  async setRefs(changes: { set?: Array<[string, Digest]>; remove?: string[] }): Promise<void> {
    for (const r of changes.remove ?? []) this.refs.delete(r)
    for (const [r, id] of changes.set ?? []) this.refs.set(r, id)
    await writeJsonAtomic(this.#refsPath, { refs: Object.fromEntries(this.refs) })
  }
}
