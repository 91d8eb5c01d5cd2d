import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Mounter } from '../lib/mounter.ts'
import { removeTempFiles, writeJsonAtomic } from '../store/atomic.ts'
import { type BrokenRecord, hasObjects, hasStrings, readRecord } from '../store/records.ts'
import { BackgroundRemoval } from '../store/background-removal.ts'
import type { ContainerRecord } from './record.ts'

/** Container records on disk, one directory per container, all read into memory at start. */
export class ContainerStore {
  readonly #dir: string
  readonly records = new Map<string, ContainerRecord>()
  /** Record files found unusable at start: left in place, reported by `system check`. */
  readonly broken: BrokenRecord[] = []
  /**
   * A directory nothing refers to any more: its record goes first (should the rest fail, nothing loads it), and
   * its rootfs may still be mounted (its container may even still run, when its record was lost): that mount is
   * detached, so the deletion never reaches into it.
   */
  readonly #removal: BackgroundRemoval
  /** Records deleted: a late save of one writes nothing. */
  readonly #deleted = new WeakSet<ContainerRecord>()

  constructor(dir: string, mounter: Mounter) {
    this.#dir = dir
    this.#removal = new BackgroundRemoval(async (d) => {
      await rm(join(d, 'container.json'), { force: true })
      await mounter.unmount(join(d, 'rootfs', 'merged')).catch(() => {})
    })
  }

  dirOf(id: string): string {
    return join(this.#dir, id)
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    await this.#removal.sweep(this.#dir)
    for (const id of await readdir(this.#dir)) {
      if (!/^[a-f0-9]{64}$/.test(id)) continue
      await removeTempFiles(join(this.#dir, id))
      const path = join(this.#dir, id, 'container.json')
      const read = await readRecord<ContainerRecord>(path, (x) => hasStrings(x, 'id', 'name', 'logPath') && hasObjects(x, 'config', 'hostConfig', 'state'))
      if ('record' in read) this.records.set(id, read.record)
      // Kept as it is, for `system check` to report: the record may be mended by hand.
      else if ('broken' in read) this.broken.push({ kind: 'container', path, reason: read.broken })
      // A directory without a record is a create that never finished: nothing refers to it.
      else await this.#removal.deleteNow(join(this.#dir, id))
    }
  }

  /**
   * Writes the record. A record deleted meanwhile (a stop or an exit that finishes after a concurrent remove) is
   * not written again: that would bring the container back on the next start, half of it removed.
   */
  async save(rec: ContainerRecord): Promise<void> {
    if (this.#deleted.has(rec)) return
    const dir = this.dirOf(rec.id)
    try {
      await mkdir(dir, { recursive: true })
      await writeJsonAtomic(join(dir, 'container.json'), rec)
    } catch (err) {
      if (!this.#deleted.has(rec)) throw err
    }
    // Deleted while this write was under way: what it made again goes too.
    if (this.#deleted.has(rec)) {
      await rm(dir, { recursive: true, force: true })
      return
    }
    this.records.set(rec.id, rec)
  }

  /**
   * Deletes the record. Its directory is renamed out of the way in one step, so a crash leaves the whole container
   * or none of it to load, and removed in the background (init removes what a crash left of it).
   */
  async delete(id: string): Promise<void> {
    const rec = this.records.get(id)
    if (rec) this.#deleted.add(rec)
    this.records.delete(id)
    await this.#removal.remove(this.dirOf(id))
  }

  /** Resolves once the directories of deleted containers are gone. */
  async settled(): Promise<void> {
    await this.#removal.settled()
  }
}
