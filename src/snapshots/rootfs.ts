import { existsSync } from 'node:fs'
import { mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Mounter } from '../lib/mounter.ts'
import { isMounted } from '../lib/mountinfo.ts'
import type { LayerStore } from './layers.ts'
import type { Digest } from '../content/digest.ts'

/**
 * A container's root filesystem: an overlayfs mount of its image's layers (read-only, shared) and its init
 * layer under its own writable layer in `<dir>/upper`, mounted at `<dir>/merged`.
 *
 * The init layer (`<dir>/init`, as Docker's `-init` layer) holds what the engine puts in every container: the
 * empty `/.dockerenv` that tools test for, and the files and directories the runtime mounts over (`/etc/hosts`,
 * `/etc/hostname`, `/etc/resolv.conf`, `/dev`, `/proc`, `/sys`). Mount targets that exist below the writable
 * layer are never created in it, so `diff` and `commit` see only what the container itself changed.
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

  /** Whether the layer is here (a container's top layer, for `system check`). */
  hasLayer(chainId: Digest): boolean {
    return this.#layers.get(chainId) !== undefined
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
    await createInitLayer(join(dir, 'init'))
  }

  async mount(dir: string, top: Digest | null): Promise<string> {
    const merged = join(dir, 'merged')
    this.#unmounts.delete(merged)
    if (await isMounted(merged)) return merged
    // A container created before init layers existed has none: its image's layers alone.
    const init = join(dir, 'init')
    const lowers = existsSync(init) ? [init, ...this.lowerDirs(top)] : this.lowerDirs(top)
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

  /**
   * Mounts an image's layers read-only at `<dir>/images/<index>`, for an image mount: an overlay of lower dirs alone
   * (read-only by nature), the container's empty dir at the bottom because overlay wants two without an upper dir.
   */
  async mountImage(dir: string, index: number, top: Digest | null): Promise<string> {
    const target = join(dir, 'images', String(index))
    if (await isMounted(target)) return target
    await mkdir(target, { recursive: true, mode: 0o755 })
    await mkdir(join(dir, 'empty'), { recursive: true, mode: 0o755 })
    const lower = [...this.lowerDirs(top), join(dir, 'empty')].join(':')
    await this.#mounter.mountOverlay(target, `lowerdir=${lower}`, this.#layers.snapshotsDir)
    return target
  }

  /** Unmounts a container's image mounts, if it has any. */
  async unmountImages(dir: string): Promise<void> {
    const root = join(dir, 'images')
    for (const name of await readdir(root).catch(() => [])) await this.#mounter.unmount(join(root, name))
  }

  /** Drops what is remembered of `<dir>`, once it is gone (a removed container's). */
  forget(dir: string): void {
    this.#unmounts.delete(join(dir, 'merged'))
  }
}

/** The init layer's tree (see RootfsManager). Made in a temp dir and renamed, so a crash leaves none or all of it. */
async function createInitLayer(dir: string): Promise<void> {
  const tmp = `${dir}.tmp`
  await rm(tmp, { recursive: true, force: true })
  for (const d of ['etc', 'dev/pts', 'dev/shm', 'proc', 'sys']) await mkdir(join(tmp, d), { recursive: true, mode: 0o755 })
  await writeFile(join(tmp, '.dockerenv'), '', { mode: 0o755 })
  for (const f of ['etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'dev/console']) await writeFile(join(tmp, f), '', { mode: 0o644 })
  await symlink('/proc/mounts', join(tmp, 'etc/mtab'))
  await rm(dir, { recursive: true, force: true })
  await rename(tmp, dir)
}
