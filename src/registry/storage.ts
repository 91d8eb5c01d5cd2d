import { createHash, randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs'
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Readable, Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Digest } from '../content/digest.ts'
import { hexOf } from '../content/digest.ts'
import { sendFileRange } from '../lib/send-file.ts'

/**
 * What the registry keeps, on a filesystem: blobs once by digest, shared by every repository that links them;
 * per repository, the blobs and manifests it links, its tags; and upload sessions, which survive a restart. Every
 * file is written to a temp name, fsynced and renamed, so a crash never leaves a partial blob, link or tag visible.
 * The interface is small enough for an object-store driver to follow.
 */
export interface RegistryStorage {
  blobSize(digest: Digest): Promise<number | undefined>
  openBlob(digest: Digest, range?: { start: number; end: number }): Readable
  /** Writes the blob (or bytes start..end of it) to `out` without ending it; where a driver can do better than a stream. */
  sendBlob?(digest: Digest, out: Writable, range?: { start: number; end: number }): Promise<void>
  /**
   * Moves a finished upload's data into place as `digest` (its content already checked) and links it into `repo`,
   * closing the session only then: a crash at any point leaves the session to resume or the blob linked.
   */
  commitUpload(id: string, digest: Digest, repo: string): Promise<void>
  putBlob(digest: Digest, data: Buffer): Promise<void>
  deleteBlob(digest: Digest): Promise<void>
  linkBlob(repo: string, digest: Digest): Promise<void>
  unlinkBlob(repo: string, digest: Digest): Promise<boolean>
  blobLinked(repo: string, digest: Digest): Promise<boolean>
  putManifest(repo: string, digest: Digest, mediaType: string): Promise<void>
  manifestType(repo: string, digest: Digest): Promise<string | undefined>
  deleteManifest(repo: string, digest: Digest): Promise<boolean>
  manifests(repo: string): Promise<Digest[]>
  tag(repo: string, tag: string, digest: Digest): Promise<void>
  resolveTag(repo: string, tag: string): Promise<Digest | undefined>
  untag(repo: string, tag: string): Promise<boolean>
  tags(repo: string): Promise<string[]>
  repositories(): Promise<string[]>
  repositoryExists(repo: string): Promise<boolean>
  /** Whether a garbage collection holds the store (writes are refused meanwhile). */
  collecting?(): boolean
  /** Every blob stored, with when it was written. */
  blobs(): Promise<Array<{ digest: Digest; mtimeMs: number }>>
  readBlob(digest: Digest): Promise<Buffer>
  /** The repository's blob links, for the collector to drop those whose blob it removed. */
  linkedBlobs(repo: string): Promise<Digest[]>
  startUpload(repo: string): Promise<string>
  uploadState(id: string): Promise<{ repo: string; size: number } | undefined>
  /** Appends to an upload, through `through` (a hasher) when given; returns the upload's new size. */
  appendUpload(id: string, data: Readable, through?: Transform): Promise<number>
  uploadDigest(id: string): Promise<Digest>
  cancelUpload(id: string): Promise<void>
}

export class FilesystemStorage implements RegistryStorage {
  readonly #root: string

  constructor(root: string) {
    this.#root = root
  }

  #blob = (d: Digest): string => join(this.#root, 'blobs', 'sha256', hexOf(d).slice(0, 2), hexOf(d))
  #repo = (repo: string): string => join(this.#root, 'repositories', repo)
  #upload = (id: string): string => join(this.#root, 'uploads', id)

  async init(): Promise<void> {
    for (const d of ['blobs/sha256', 'repositories', 'uploads']) await mkdir(join(this.#root, d), { recursive: true })
  }

  /**
   * What a killed server leaves, cleared at start: temp files of writes it cut (never visible: every reader skips
   * them), upload sessions it never handed out (no state) or had already committed (no data), and sessions idle past
   * `maxUploadAgeMs` (distribution purges its uploads after a week too).
   */
  async recover(maxUploadAgeMs = 7 * 24 * 3600_000): Promise<{ tempFiles: number; uploads: number }> {
    const found = { tempFiles: 0, uploads: 0 }
    const sweep = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        if (e.name.startsWith('.tmp-')) {
          await rm(join(dir, e.name), { force: true })
          found.tempFiles++
        } else if (e.isDirectory()) await sweep(join(dir, e.name))
      }
    }
    await sweep(join(this.#root, 'blobs'))
    await sweep(join(this.#root, 'repositories'))
    const now = Date.now()
    for (const id of await readdir(join(this.#root, 'uploads')).catch(() => [])) {
      const dir = this.#upload(id)
      await sweep(dir)
      const [state, data] = await Promise.all([stat(join(dir, 'state.json')).catch(() => undefined), stat(join(dir, 'data')).catch(() => undefined)])
      if (state && data && now - Math.max(state.mtimeMs, data.mtimeMs) < maxUploadAgeMs) continue
      await rm(dir, { recursive: true, force: true })
      found.uploads++
    }
    return found
  }

  async blobSize(digest: Digest): Promise<number | undefined> {
    return stat(this.#blob(digest)).then((s) => s.size, () => undefined)
  }

  openBlob(digest: Digest, range?: { start: number; end: number }): Readable {
    return createReadStream(this.#blob(digest), range ? { start: range.start, end: range.end } : {})
  }

  sendBlob(digest: Digest, out: Writable, range?: { start: number; end: number }): Promise<void> {
    return sendFileRange(this.#blob(digest), out, range?.start, range?.end)
  }

  async commitUpload(id: string, digest: Digest, repo: string): Promise<void> {
    // A link to a blob not yet in place is invisible (blobLinked wants both), so it goes first.
    await this.linkBlob(repo, digest)
    const target = this.#blob(digest)
    await mkdir(dirname(target), { recursive: true })
    const data = join(this.#upload(id), 'data')
    await fsyncFile(data)
    if (existsSync(target)) await rm(data, { force: true })
    else await rename(data, target)
    await rm(this.#upload(id), { recursive: true, force: true })
  }

  async putBlob(digest: Digest, data: Buffer): Promise<void> {
    if (existsSync(this.#blob(digest))) return
    await writeAtomic(this.#blob(digest), data)
  }

  async deleteBlob(digest: Digest): Promise<void> {
    await rm(this.#blob(digest), { force: true })
  }

  async linkBlob(repo: string, digest: Digest): Promise<void> {
    const link = join(this.#repo(repo), '_layers', hexOf(digest))
    if (!existsSync(link)) await writeAtomic(link, digest)
  }

  async unlinkBlob(repo: string, digest: Digest): Promise<boolean> {
    const link = join(this.#repo(repo), '_layers', hexOf(digest))
    if (!existsSync(link)) return false
    await rm(link, { force: true })
    return true
  }

  async blobLinked(repo: string, digest: Digest): Promise<boolean> {
    return existsSync(join(this.#repo(repo), '_layers', hexOf(digest))) && existsSync(this.#blob(digest))
  }

  async putManifest(repo: string, digest: Digest, mediaType: string): Promise<void> {
    await writeAtomic(join(this.#repo(repo), '_manifests', hexOf(digest)), mediaType)
  }

  async manifestType(repo: string, digest: Digest): Promise<string | undefined> {
    if (!existsSync(this.#blob(digest))) return undefined
    return readFile(join(this.#repo(repo), '_manifests', hexOf(digest)), 'utf8').catch(() => undefined)
  }

  async deleteManifest(repo: string, digest: Digest): Promise<boolean> {
    const link = join(this.#repo(repo), '_manifests', hexOf(digest))
    if (!existsSync(link)) return false
    // Its tags go with it, as distribution's do.
    for (const t of await this.tags(repo)) if ((await this.resolveTag(repo, t)) === digest) await this.untag(repo, t)
    await rm(link, { force: true })
    return true
  }

  async manifests(repo: string): Promise<Digest[]> {
    return (await readdir(join(this.#repo(repo), '_manifests')).catch(() => [])).filter((f) => /^[a-f0-9]{64}$/.test(f)).map((h): Digest => `sha256:${h}`)
  }

  async tag(repo: string, tag: string, digest: Digest): Promise<void> {
    await writeAtomic(join(this.#repo(repo), '_tags', tag), digest)
  }

  async resolveTag(repo: string, tag: string): Promise<Digest | undefined> {
    return (await readFile(join(this.#repo(repo), '_tags', tag), 'utf8').catch(() => undefined)) as Digest | undefined
  }

  async untag(repo: string, tag: string): Promise<boolean> {
    const file = join(this.#repo(repo), '_tags', tag)
    if (!existsSync(file)) return false
    await rm(file, { force: true })
    return true
  }

  async tags(repo: string): Promise<string[]> {
    return (await readdir(join(this.#repo(repo), '_tags')).catch(() => [])).filter((t) => !t.startsWith('.tmp-')).sort()
  }

  async repositories(): Promise<string[]> {
    const out: string[] = []
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
      if (entries.some((e) => e.name === '_manifests' || e.name === '_layers')) out.push(prefix)
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('_')) await walk(join(dir, e.name), prefix ? `${prefix}/${e.name}` : e.name)
    }
    await walk(join(this.#root, 'repositories'), '')
    return out.sort()
  }

  async repositoryExists(repo: string): Promise<boolean> {
    return existsSync(join(this.#repo(repo), '_manifests')) || existsSync(join(this.#repo(repo), '_layers'))
  }

  async blobs(): Promise<Array<{ digest: Digest; mtimeMs: number }>> {
    const out: Array<{ digest: Digest; mtimeMs: number }> = []
    const base = join(this.#root, 'blobs', 'sha256')
    for (const prefix of await readdir(base).catch(() => [])) {
      for (const hex of await readdir(join(base, prefix)).catch(() => [])) {
        if (!/^[a-f0-9]{64}$/.test(hex)) continue
        const st = await stat(join(base, prefix, hex)).catch(() => undefined)
        if (st) out.push({ digest: `sha256:${hex}`, mtimeMs: st.mtimeMs })
      }
    }
    return out
  }

  readBlob(digest: Digest): Promise<Buffer> {
    return readFile(this.#blob(digest))
  }

  async linkedBlobs(repo: string): Promise<Digest[]> {
    return (await readdir(join(this.#repo(repo), '_layers')).catch(() => [])).filter((f) => /^[a-f0-9]{64}$/.test(f)).map((h): Digest => `sha256:${h}`)
  }

  /** Marks the store as being collected: the server refuses writes while this lock names a live process. */
  gcLockPath(): string {
    return join(this.#root, 'gc.lock')
  }

  collecting(): boolean {
    // Asked at every write request: without a lock (the usual case) no read is tried.
    return existsSync(this.gcLockPath()) && gcLockHolder(this.gcLockPath()) !== undefined
  }

  async startUpload(repo: string): Promise<string> {
    const id = randomUUID()
    await mkdir(this.#upload(id), { recursive: true })
    await writeFile(join(this.#upload(id), 'data'), '')
    await writeAtomic(join(this.#upload(id), 'state.json'), JSON.stringify({ repo, startedAt: new Date().toISOString() }))
    return id
  }

  async uploadState(id: string): Promise<{ repo: string; size: number } | undefined> {
    if (!/^[0-9a-f-]{36}$/.test(id)) return undefined
    const state = await readFile(join(this.#upload(id), 'state.json'), 'utf8').catch(() => undefined)
    if (!state) return undefined
    const size = (await stat(join(this.#upload(id), 'data')).catch(() => undefined))?.size ?? 0
    return { repo: (JSON.parse(state) as { repo: string }).repo, size }
  }

  /** Appends a chunk; returns the upload's new size. What a crash cuts short is cut off by the client's resume. */
  async appendUpload(id: string, data: Readable, through?: Transform): Promise<number> {
    const file = join(this.#upload(id), 'data')
    if (through) await pipeline(data, through, createWriteStream(file, { flags: 'a' }))
    else await pipeline(data, createWriteStream(file, { flags: 'a' }))
    return (await stat(file)).size
  }

  async uploadDigest(id: string): Promise<Digest> {
    const hash = createHash('sha256')
    await pipeline(createReadStream(join(this.#upload(id), 'data')), hash)
    return `sha256:${hash.digest('hex')}`
  }

  async cancelUpload(id: string): Promise<void> {
    await rm(this.#upload(id), { recursive: true, force: true })
  }
}

/**
 * The pid in a gc lock when that process still lives; undefined when there is no lock, or when its collector was
 * killed (a lock that outlived its process must not hold the registry read-only).
 */
export function gcLockHolder(path: string): number | undefined {
  let pid: number
  try {
    pid = Number(readFileSync(path, 'utf8').trim())
  } catch {
    return undefined
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  try {
    process.kill(pid, 0)
    return pid
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined
  }
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = join(dirname(path), `.tmp-${randomUUID()}`)
  const fh = await open(tmp, 'w')
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
}
