import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { removeTempFiles, writeJsonAtomic } from '../store/atomic.ts'
import { type BrokenRecord, hasObjects, hasStrings, readRecord } from '../store/records.ts'
import type { NetworkRecord } from './record.ts'

/** Network records under `<root>/networks`, one file each, written atomically; all of them kept in memory. */
export class NetworkStore {
  readonly #dir: string
  readonly records = new Map<string, NetworkRecord>()
  /** Record files found unusable at start: left in place, reported by `system check`. */
  readonly broken: BrokenRecord[] = []

  constructor(dir: string) {
    this.#dir = dir
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    await removeTempFiles(this.#dir)
    for (const name of await readdir(this.#dir)) {
      if (!name.endsWith('.json')) continue
      const path = join(this.#dir, name)
      const read = await readRecord<NetworkRecord>(path, (x) => hasStrings(x, 'id', 'name', 'driver') && hasObjects(x, 'endpoints'))
      if ('record' in read) this.records.set(read.record.id, read.record)
      else if ('broken' in read) this.broken.push({ kind: 'network', path, reason: read.broken })
    }
  }

  async save(rec: NetworkRecord): Promise<void> {
    await writeJsonAtomic(join(this.#dir, `${rec.id}.json`), rec)
    this.records.set(rec.id, rec)
  }

  async delete(id: string): Promise<void> {
    await rm(join(this.#dir, `${id}.json`), { force: true })
    this.records.delete(id)
  }
}
