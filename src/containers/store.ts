import { mkdir, readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isErrno } from '../lib/errors.ts'
import type { Mounter } from '../lib/mounter.ts'
import { readJson, writeJsonAtomic } from '../store/atomic.ts'
import type { ContainerRecord } from './record.ts'

/** Container records on disk, one directory per container, all read into memory at start. */
export class ContainerStore {
  readonly #dir: string
  readonly #mounter: Mounter
  readonly records = new Map<string, ContainerRecord>()
  readonly #removals = new Set<Promise<void>>()

  constructor(dir: string, mounter: Mounter) {
    this.#dir = dir
    this.#mounter = mounter
  }

  dirOf(id: string): string {
    return join(this.#dir, id)
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    for (const id of await readdir(this.#dir)) {
      if (id.endsWith(removingSuffix)) await this.#removeDir(join(this.#dir, id))
      if (!/^[a-f0-9]{64}$/.test(id)) continue
      const rec = await readJson<ContainerRecord>(join(this.#dir, id, 'container.json'))
      // A directory without a record is a create that never finished, or a record lost: nothing refers to it.
      if (rec) this.records.set(id, rec)
      else await this.#removeDir(join(this.#dir, id))
    }
  }

  async save(rec: ContainerRecord): Promise<void> {
    await mkdir(this.dirOf(rec.id), { recursive: true })
    await writeJsonAtomic(join(this.dirOf(rec.id), 'container.json'), rec)
    this.records.set(rec.id, rec)
  }

  /**
   * Deletes the record. Its directory is renamed out of the way in one step, so a crash leaves the whole container
   * or none of it to load, and removed in the background (init removes what a crash left of it).
   */
  async delete(id: string): Promise<void> {
    this.records.delete(id)
    const doomed = this.dirOf(id) + removingSuffix
    try {
      await rename(this.dirOf(id), doomed)
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return
      // Not renamed: the record goes first, then the rest, as the next start would remove it.
      await rm(join(this.dirOf(id), 'container.json'), { force: true })
      await this.#removeDir(this.dirOf(id))
      return
    }
    const removal: Promise<void> = this.#removeDir(doomed).finally(() => this.#removals.delete(removal))
    this.#removals.add(removal)
  }

  /**
   * A directory nothing refers to any more. Its rootfs may still be mounted (its container may even still run,
   * when its record was lost): that mount is detached first, so the removal never reaches into it. A failure
   * leaves the directory for the next start rather than stopping this one.
   */
  async #removeDir(dir: string): Promise<void> {
    await this.#mounter.unmount(join(dir, 'rootfs', 'merged')).catch(() => {})
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }

  /** Resolves once the directories of deleted containers are gone. */
  async settled(): Promise<void> {
    await Promise.all(this.#removals)
  }
}

const removingSuffix = '.removing'
