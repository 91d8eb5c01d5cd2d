import { createHash } from 'node:crypto'
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type Digest, DigestingStream, hexOf } from '../content/digest.ts'
import { newId } from '../lib/ids.ts'
import { KeyedMutex } from '../lib/mutex.ts'
import { removeTempFiles, syncDir, writeJsonAtomic } from '../store/atomic.ts'
import { type BrokenRecord, type StoreProblem, brokenProblems, hasStrings, readRecord, setAside } from '../store/records.ts'
import { maybeGunzip } from '../lib/tar.ts'
import { type ApplyResult, applyLayerTar } from './overlay-tar.ts'

/**
 * A layer is one unpacked filesystem diff. It is identified by its chain ID, which covers the layer
 * and every layer under it: chainID(L1) = diffID(L1); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)).
 * Two images with the same base share the base's layers on disk.
 */
export interface LayerRecord {
  chainId: Digest
  diffId: Digest
  parent: Digest | null
  /** Bytes of files in this layer alone. */
  size: number
}

export function chainIdOf(parent: Digest | null, diffId: Digest): Digest {
  if (!parent) return diffId
  return `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}`
}

export function chainIdsOf(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = []
  let parent: Digest | null = null
  for (const d of diffIds) {
    parent = chainIdOf(parent, d)
    out.push(parent)
  }
  return out
}

/** Unpacked layers under `<root>/snapshots/<chain hex>/fs`, described by `<root>/layers/<chain hex>.json`. */
export class LayerStore {
  readonly #records: string
  readonly #snapshots: string
  readonly #cache = new Map<Digest, LayerRecord>()
  /** Per chain ID: a layer appearing and the same layer being removed never interleave. */
  readonly #locks = new KeyedMutex()
  /** Record files found unusable at start: left in place, reported by `system check`. */
  readonly broken: BrokenRecord[] = []

  constructor(recordsDir: string, snapshotsDir: string) {
    this.#records = recordsDir
    this.#snapshots = snapshotsDir
  }

  async init(): Promise<void> {
    await mkdir(this.#records, { recursive: true })
    await mkdir(this.#snapshots, { recursive: true })
    for (const name of await readdir(this.#snapshots)) {
      if (name.startsWith('.tmp-')) await rm(join(this.#snapshots, name), { recursive: true, force: true })
    }
    const keep = new Set<string>()
    await removeTempFiles(this.#records)
    for (const name of await readdir(this.#records)) {
      const path = join(this.#records, name)
      const read = await readRecord<LayerRecord>(path, (x) => hasStrings(x, 'chainId', 'diffId'))
      if ('broken' in read) {
        this.broken.push({ kind: 'layer', path, reason: read.broken })
        // Its directory stays too: the record names it, and a mended record finds it.
        keep.add(name.replace(/\.json$/, ''))
      }
      if (!('record' in read)) continue
      const rec = read.record
      // A record without its directory means the unpack was never finished: forget it.
      if (await stat(this.dir(rec.chainId)).then(() => true, () => false)) this.#cache.set(rec.chainId, rec)
      else await rm(join(this.#records, name), { force: true })
    }
    // A directory without a record is a layer whose record was never written: unreachable, so delete it.
    for (const name of await readdir(this.#snapshots)) {
      if (/^[a-f0-9]{64}$/.test(name) && !this.#cache.has(`sha256:${name}`) && !keep.has(name)) {
        await rm(join(this.#snapshots, name), { recursive: true, force: true })
      }
    }
  }

  /**
   * Each layer's record against its directory and its parent, and the records found broken at start. `repair`
   * sets a broken record aside with its directory.
   */
  async check(repair: { root: string } | undefined): Promise<{ checked: number; problems: StoreProblem[] }> {
    const problems = await brokenProblems(this.broken, repair, (r) => r.path)
    if (repair) {
      for (const p of problems) {
        const dir = join(this.#snapshots, basename(p.id, '.json'))
        if (await stat(dir).then(() => true, () => false)) p.repaired += `; its files in ${await setAside(repair.root, dir)}`
      }
    }
    for (const rec of this.#cache.values()) {
      const id = rec.chainId
      if (!(await stat(this.dir(id)).then((s) => s.isDirectory(), () => false))) problems.push({ object: 'layer', id, problem: 'its files are missing' })
      if (rec.parent && !this.#cache.has(rec.parent)) problems.push({ object: 'layer', id, problem: `its parent layer ${rec.parent} is missing` })
      if (chainIdOf(rec.parent, rec.diffId) !== id) problems.push({ object: 'layer', id, problem: 'its chain ID does not follow from its parent and diff ID' })
    }
    return { checked: this.#cache.size, problems }
  }

  /** Directory of a layer's files, relative to the snapshots dir (kept short for overlay's mount options). */
  relDir(chainId: Digest): string {
    return `${hexOf(chainId)}/fs`
  }

  dir(chainId: Digest): string {
    return join(this.#snapshots, this.relDir(chainId))
  }

  get snapshotsDir(): string {
    return this.#snapshots
  }

  get(chainId: Digest): LayerRecord | undefined {
    return this.#cache.get(chainId)
  }

  all(): LayerRecord[] {
    return [...this.#cache.values()]
  }

  /**
   * Unpacks a layer tar (plain or gzip) on top of `parent`. Returns the existing record when that chain is
   * already here; otherwise unpacks into a temp dir and renames it into place, so a crash leaves no half layer.
   * `expectedDiffId`, when known, is checked before anything is kept; with `verified`, the caller vouches for it
   * (an uncompressed blob whose digest the content store checked as it came in) and the tar is not hashed again.
   */
  /**
   * Unpacks a layer over `parent`, or returns the one already here. `hold` is called with its chain ID before it
   * is returned, where no removal of the same layer can come between (a lease taken there keeps gc from it).
   */
  async apply(source: Readable, parent: Digest | null, expectedDiffId?: Digest, opts: { verified?: boolean; hold?: (chainId: Digest) => void } = {}): Promise<LayerRecord> {
    // Listened to at once: an error opening the source (a blob removed meanwhile) while this awaits its temp dir
    // becomes this call's error, instead of an 'error' event nobody listens to.
    const input = maybeGunzip(source)
    let early: Error | undefined
    const onEarlyError = (err: Error): void => void (early ??= err)
    input.on('error', onEarlyError)
    if (expectedDiffId) {
      const existing = this.#cache.get(chainIdOf(parent, expectedDiffId))
      if (existing) {
        input.destroy()
        source.destroy()
        opts.hold?.(existing.chainId)
        return existing
      }
    }
    const tmp = join(this.#snapshots, `.tmp-${newId().slice(0, 16)}`)
    await mkdir(join(tmp, 'fs'), { recursive: true })
    try {
      input.off('error', onEarlyError)
      if (early) throw early
      let diffId: Digest
      let applied: ApplyResult
      if (opts.verified && expectedDiffId) {
        applied = await applyLayerTar(input, join(tmp, 'fs'))
        diffId = expectedDiffId
      } else {
        const hasher = new DigestingStream()
        const tee = new PassThrough()
        const hashing = pipeline(input, hasher, tee)
        const [, result] = await Promise.all([hashing, applyLayerTar(tee, join(tmp, 'fs'))])
        applied = result
        diffId = hasher.digest()
      }
      if (expectedDiffId && diffId !== expectedDiffId) {
        throw new Error(`layer digest mismatch: expected ${expectedDiffId}, got ${diffId}`)
      }
      const chainId = chainIdOf(parent, diffId)
      // The same layer may be unpacked twice at once (two commits of the same change): the first in keeps it.
      return await this.#locks.run(chainId, async () => {
        opts.hold?.(chainId)
        const existing = this.#cache.get(chainId)
        if (existing) return existing
        const rec: LayerRecord = { chainId, diffId, parent, size: applied.size }
        await rename(tmp, join(this.#snapshots, hexOf(chainId)))
        await syncDir(this.#snapshots)
        await writeJsonAtomic(join(this.#records, `${hexOf(chainId)}.json`), rec)
        this.#cache.set(chainId, rec)
        return rec
      })
    } finally {
      source.destroy()
      await rm(tmp, { recursive: true, force: true })
    }
  }

  /**
   * Deletes one layer; callers (the image service) decide that nothing uses it any more, 
   * `wanted`, asked once nothing else can touch the layer, says it is used again.
   */
  async remove(chainId: Digest, wanted: () => boolean = () => false): Promise<boolean> {
    return this.#locks.run(chainId, async () => {
      if (wanted()) return false
      this.#cache.delete(chainId)
      await rm(join(this.#records, `${hexOf(chainId)}.json`), { force: true })
      await rm(join(this.#snapshots, hexOf(chainId)), { recursive: true, force: true })
      return true
    })
  }
}
