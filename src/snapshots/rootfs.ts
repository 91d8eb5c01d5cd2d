import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Mounter } from '../lib/mounter.ts'
import { isMounted } from '../lib/mountinfo.ts'
import type { LayerStore } from './layers.ts'
import type { Digest } from '../content/digest.ts'

/**
 * A container's root filesystem: an overlayfs mount of its image's layers (read-only, shared)
 * under its own writable layer in `<dir>/upper`, mounted at `<dir>/merged`.
 */
export class RootfsManager {
  readonly #layers: LayerStore
  readonly #mounter: Mounter
  /** Unmounts of `merged` dirs, running or done, since each was last mounted here. */
  readonly #unmounts = new Map<string, Promise<void>>()

  constructor(layers: LayerStore, mounter: Mounter) {
    this.#layers = layers
    this.#mounter = mounter
  }

  /** Lower dirs, top first, for the image whose top layer is `top`. */
  lowerDirs(top: Digest | null): string[] {
    const dirs: string[] = []
    for (let cur = top; cur; ) {
      const rec = this.#layers.get(cur)
      if (!rec) throw new Error(`layer ${cur} is missing from the store`)
      dirs.push(this.#layers.relDir(cur))
      cur = rec.parent
    }
    return dirs
  }

  get snapshotsDir(): string {
    return this.#layers.snapshotsDir
  }

  async create(dir: string): Promise<void> {
    await mkdir(join(dir, 'upper'), { recursive: true, mode: 0o755 })
    await mkdir(join(dir, 'work'), { recursive: true, mode: 0o700 })
    await mkdir(join(dir, 'merged'), { recursive: true, mode: 0o755 })
    await mkdir(join(dir, 'empty'), { recursive: true, mode: 0o755 })
  }

  async mount(dir: string, top: Digest | null): Promise<string> {
    const merged = join(dir, 'merged')
    this.#unmounts.delete(merged)
    if (await isMounted(merged)) return merged
    const lowers = this.lowerDirs(top)
    // overlay needs at least one lower dir; an image with no layers gets an empty one.
    const lower = lowers.length > 0 ? lowers.join(':') : join(dir, 'empty')
    // Relative lower dirs (resolved against the snapshots dir) keep the options under the kernel's page-size limit.
    const options = `lowerdir=${lower},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`
    await this.#mounter.mountOverlay(merged, options, this.#layers.snapshotsDir)
    return merged
  }

  /**
   * Unmounts `<dir>/merged`. A second call while one runs waits for that one instead of racing it; one after it
   * succeeded, with no mount since, has nothing to do (an `rm -f` unmounts early, then its exit cleanup asks again,
   * and each round trip to the mount helper costs ~0.5 ms while the kernel tears the container down).
   */
  unmount(dir: string): Promise<void> {
    const merged = join(dir, 'merged')
    const known = this.#unmounts.get(merged)
    if (known) return known
    const done = this.#mounter.unmount(merged).catch((err: unknown) => {
      if (this.#unmounts.get(merged) === done) this.#unmounts.delete(merged)
      throw err
    })
    this.#unmounts.set(merged, done)
    return done
  }

  /** Drops what is remembered of `<dir>`, once it is gone (a removed container's). */
  forget(dir: string): void {
    this.#unmounts.delete(join(dir, 'merged'))
  }
}
