import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { readJson, writeJsonAtomic } from '../store/atomic.ts'
import type { ContainerRecord } from './record.ts'

/** Container records on disk, one directory per container, all read into memory at start. */
export class ContainerStore {
  readonly #dir: string
  readonly records = new Map<string, ContainerRecord>()

  constructor(dir: string) {
    this.#dir = dir
  }

  dirOf(id: string): string {
    return join(this.#dir, id)
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    for (const id of await readdir(this.#dir)) {
      if (!/^[a-f0-9]{64}$/.test(id)) continue
      const rec = await readJson<ContainerRecord>(join(this.#dir, id, 'container.json'))
      // A directory without a record is a create that never finished: nothing refers to it.
      if (rec) this.records.set(id, rec)
      else await rm(join(this.#dir, id), { recursive: true, force: true })
    }
  }

  async save(rec: ContainerRecord): Promise<void> {
    await mkdir(this.dirOf(rec.id), { recursive: true })
    await writeJsonAtomic(join(this.dirOf(rec.id), 'container.json'), rec)
    this.records.set(rec.id, rec)
  }

  /** Deletes the record first, then the rest of the directory: a crash in between leaves no half a container to load. */
  async delete(id: string): Promise<void> {
    this.records.delete(id)
    await rm(join(this.dirOf(id), 'container.json'), { force: true })
    await rm(this.dirOf(id), { recursive: true, force: true })
  }
}
