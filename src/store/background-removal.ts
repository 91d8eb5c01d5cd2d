import { readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isErrno } from '../lib/errors.ts'

const removingSuffix = '.removing'

/** A name `BackgroundRemoval` gave a directory it is deleting (or that a crash left half deleted). */
export const isBeingRemoved = (name: string): boolean => name.endsWith(removingSuffix)

/**
 * Removes directories in two steps: a rename now (one operation, after which the name is free and nothing finds
 * the directory under it), then the deletion in the background (for a tree, many small operations through
 * libuv's thread pool: 1–3 ms for a container's bundle). A crash between the two leaves `<name>.<n>.removing`,
 * which `sweep` deletes at the next start.
 */
export class BackgroundRemoval {
  readonly #pending = new Set<Promise<void>>()
  readonly #prepare: (dir: string) => Promise<void>
  #seq = 0

  /** `prepare` runs before each deletion, wherever the directory then is (the store unmounts a rootfs in it). */
  constructor(prepare: (dir: string) => Promise<void> = async () => {}) {
    this.#prepare = prepare
  }

  /** Renames `dir` away and resolves; one that cannot be renamed is deleted in place before this resolves. */
  async remove(dir: string): Promise<void> {
    // A unique name: the same directory may be made again and removed again before the first deletion ends.
    const doomed = `${dir}.${Date.now()}-${this.#seq++}${removingSuffix}`
    try {
      await rename(dir, doomed)
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return
      await this.deleteNow(dir)
      return
    }
    const removal: Promise<void> = this.deleteNow(doomed).finally(() => this.#pending.delete(removal))
    this.#pending.add(removal)
  }

  /** Deletes a directory where it is. A failure leaves it for a later sweep rather than failing the caller. */
  async deleteNow(dir: string): Promise<void> {
    await this.#prepare(dir).catch(() => {})
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }

  /** Deletes what a crash left being removed under `parent`. */
  async sweep(parent: string): Promise<void> {
    for (const name of await readdir(parent).catch(() => [])) if (isBeingRemoved(name)) await this.deleteNow(join(parent, name))
  }

  /** Resolves once every deletion under way has ended. */
  async settled(): Promise<void> {
    await Promise.all(this.#pending)
  }
}
