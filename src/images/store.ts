import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Digest } from '../content/digest.ts'
import { hexOf } from '../content/digest.ts'
import { removeTempFiles, writeFileAtomic, writeJsonAtomic } from '../store/atomic.ts'
import { type BrokenRecord, hasObjects, hasStrings, readRecord } from '../store/records.ts'
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
  /** References found at start to images that are not here; the next write of the map drops them. */
  readonly danglingRefs = new Map<string, Digest>()
  /** Record files found unusable at start: left in place, reported by `system check`. */
  readonly broken: BrokenRecord[] = []

  constructor(dir: string, refsPath: string) {
    this.#dir = dir
    this.#refsPath = refsPath
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    await removeTempFiles(this.#dir)
    for (const name of await readdir(this.#dir)) {
      if (!/^[a-f0-9]{64}\.json$/.test(name)) continue
      const path = join(this.#dir, name)
      const read = await readRecord<ImageRecord>(path, (x) => hasStrings(x, 'id', 'manifest') && Array.isArray((x as { layers?: unknown }).layers))
      if ('record' in read) this.records.set(read.record.id, read.record)
      else if ('broken' in read) this.broken.push({ kind: 'image', path, reason: read.broken })
    }
    const read = await readRecord<{ refs: Record<string, Digest> }>(this.#refsPath, (x) => hasObjects(x, 'refs'))
    if ('broken' in read) this.broken.push({ kind: 'references', path: this.#refsPath, reason: read.broken })
    const refs = 'record' in read ? read.record.refs : {}
    for (const [ref, id] of Object.entries(refs)) {
      if (this.records.has(id)) this.refs.set(ref, id)
      else this.danglingRefs.set(ref, id)
    }
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
