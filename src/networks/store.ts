import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isTempFile, readJson, writeJsonAtomic } from '../store/atomic.ts'
import type { NetworkRecord } from './record.ts'

/** Network records under `<root>/networks`, one file each, written atomically; all of them kept in memory. */
export class NetworkStore {
  readonly #dir: string
  readonly records = new Map<string, NetworkRecord>()

  constructor(dir: string) {
    this.#dir = dir
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    for (const name of await readdir(this.#dir)) {
      if (isTempFile(name) || !name.endsWith('.json')) continue
      const rec = await readJson<NetworkRecord>(join(this.#dir, name))
      if (rec) this.records.set(rec.id, rec)
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
