import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { newId } from '../lib/ids.ts'
import { KeyedMutex } from '../lib/mutex.ts'
import { invalid, isErrno, notFound } from '../lib/errors.ts'
import { isTempFile, removeTempFiles, syncDir, writeFileAtomic } from '../store/atomic.ts'
import { type StoreProblem, setAside } from '../store/records.ts'
import { type Digest, DigestingStream, digestOf, hexOf } from './digest.ts'

export interface BlobReader {
  open(digest: Digest): Readable
  read(digest: Digest): Promise<Buffer>
  has(digest: Digest): Promise<boolean>
  size(digest: Digest): Promise<number>
}

export interface IngestResult {
  digest: Digest
  size: number
}

/** Content-addressed blobs (sha256): layers, configs, manifests. Writers go through ingest → verify → rename. */
export class ContentStore implements BlobReader {
  readonly #blobs: string
  readonly #ingest: string
  /** Per digest: a blob appearing and the same blob being deleted never interleave. */
  readonly #locks = new KeyedMutex()

  constructor(blobsDir: string, ingestDir: string) {
    this.#blobs = blobsDir
    this.#ingest = ingestDir
  }

  async init(): Promise<void> {
    await mkdir(this.#blobs, { recursive: true })
    await removeTempFiles(this.#blobs)
    // Interrupted ingests are never referenced: start clean.
    await rm(this.#ingest, { recursive: true, force: true })
    await mkdir(this.#ingest, { recursive: true })
  }

  /**
   * Reads every blob back and compares it with its name. A blob that does not match, or a file that is no blob, is
   * a problem; `repair` sets it aside under `<root>/broken/` (what refers to it reports itself missing).
   */
  async check(repair: { root: string } | undefined): Promise<{ checked: number; problems: StoreProblem[] }> {
    const problems: StoreProblem[] = []
    let checked = 0
    for (const name of await readdir(this.#blobs)) {
      const path = join(this.#blobs, name)
      let problem: string
      if (/^[a-f0-9]{64}$/.test(name)) {
        const hash = createHash('sha256')
        try {
          for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
        } catch (err) {
          if (isErrno(err, 'ENOENT')) continue // removed meanwhile
          throw err
        }
        checked++
        const actual = hash.digest('hex')
        if (actual === name) continue
        problem = `content does not match its digest (it hashes to sha256:${actual})`
      } else if (isTempFile(name)) continue
      else problem = 'a file that is not a blob'
      problems.push({ object: 'blob', id: /^[a-f0-9]{64}$/.test(name) ? `sha256:${name}` : path, problem, ...(repair ? { repaired: `set aside in ${await setAside(repair.root, path)}` } : {}) })
    }
    return { checked, problems }
  }

  path(digest: Digest): string {
    return join(this.#blobs, hexOf(digest))
  }

  open(digest: Digest): Readable {
    return createReadStream(this.path(digest))
  }

  async read(digest: Digest): Promise<Buffer> {
    try {
      return await readFile(this.path(digest))
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(`content ${digest} not found`, err)
      throw err
    }
  }

  async has(digest: Digest): Promise<boolean> {
    return stat(this.path(digest)).then(() => true, () => false)
  }

  async size(digest: Digest): Promise<number> {
    return (await stat(this.path(digest))).size
  }

  /** Stores a small blob held in memory (configs, manifests). */
  async put(data: string | Uint8Array): Promise<IngestResult> {
    const digest = digestOf(data)
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length
    await this.#locks.run(digest, async () => {
      if (!(await this.has(digest))) await writeFileAtomic(this.path(digest), data, 0o644)
    })
    return { digest, size }
  }

  /**
   * Streams a blob in; when `expected` is given a mismatch is an error and nothing is stored. `hold` is called with
   * the digest just before the blob appears in the store: a lease taken there keeps gc from it from its first moment.
   */
  async ingest(source: Readable, expected?: Digest, opts: { signal?: AbortSignal; hold?: (digest: Digest) => void } = {}): Promise<IngestResult> {
    const tmp = join(this.#ingest, newId())
    const hasher = new DigestingStream()
    try {
      await pipeline(source, hasher, createWriteStream(tmp, { mode: 0o644, flush: true, highWaterMark: 4 << 20 }), { signal: opts.signal })
      const digest = hasher.digest()
      if (expected && digest !== expected) throw invalid(`digest mismatch: expected ${expected}, got ${digest}`)
      await this.#locks.run(digest, async () => {
        opts.hold?.(digest)
        await rename(tmp, this.path(digest))
      })
      await syncDir(this.#blobs)
      return { digest, size: hasher.size }
    } finally {
      await rm(tmp, { force: true })
    }
  }

  /** A temp path in the ingest area (same filesystem), for writers that hash as they go and then `adopt`. */
  tempPath(): string {
    return join(this.#ingest, newId())
  }

  /** Moves an already hashed file (from tempPath) into the store under its digest. */
  async adopt(path: string, digest: Digest): Promise<void> {
    await this.#locks.run(digest, () => rename(path, this.path(digest)))
    await syncDir(this.#blobs)
  }

  /** Deletes a blob, unless `wanted`, asked once no write of the same blob can come between, says it is used again. */
  async delete(digest: Digest, wanted: () => boolean = () => false): Promise<void> {
    await this.#locks.run(digest, async () => {
      if (!wanted()) await rm(this.path(digest), { force: true })
    })
  }

  async list(): Promise<Digest[]> {
    return (await readdir(this.#blobs)).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n): Digest => `sha256:${n}`)
  }
}
