import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { lstat, mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises'
import { join, posix } from 'node:path'
import { type Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DigestingStream } from '../content/digest.ts'
import { IgnoreRules } from '../lib/dockerignore.ts'
import { diskUsage } from '../lib/disk-usage.ts'
import { CaisError, invalid, isErrno } from '../lib/errors.ts'
import { newId } from '../lib/ids.ts'
import { readScopedText } from '../lib/scoped-path.ts'
import { extractTar, maybeDecompress } from '../lib/tar.ts'
import { readJson, writeJsonAtomic } from '../store/atomic.ts'

/** A build context unpacked on disk, with the Dockerfile it names. Builds only read it. */
export interface BuildContext {
  dir: string
  /** The Dockerfile's path relative to the context, as the client named it. */
  dockerfilePath: string
  dockerfile: string
  /** sha256 (hex) of each regular file's content, by host path, taken as the context was unpacked. */
  digests: Map<string, string>
}

/** What `<dir>/../<key>.json` keeps of an unpacked context. */
interface ContextRecord {
  dockerfilePath: string
  dockerfile: string
  /** Digests by path relative to the context. */
  digests: Record<string, string>
}

/** How many unpacked contexts stay for a client that sends the same one again. */
const KEEP = 4

/**
 * Build contexts, received to disk as they stream in (so one of any size never sits in memory) and unpacked
 * once: a client sending the same bytes again (a rebuild with nothing changed) gets the context unpacked last
 * time, found by the digest of its tar, and only the tar's digest is taken. The last few stay, as build cache.
 */
export class ContextStore {
  readonly #dir: string
  readonly #inUse = new Map<string, number>()

  constructor(dir: string) {
    this.#dir = dir
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 })
    for (const name of await readdir(this.#dir)) {
      // An unpack or a receive a crash cut short.
      if (name.startsWith('.tmp-')) await rm(join(this.#dir, name), { recursive: true, force: true })
    }
  }

  /**
   * Receives a context tar (plain, gzip, bzip2 or xz) and returns it unpacked, with what `.dockerignore` (or
   * `<Dockerfile>.dockerignore` beside the Dockerfile, which wins) excludes dropped, since not every client
   * applies it. `release` when the build is done with it.
   */
  async receive(body: Readable, dockerfilePath: string): Promise<{ context: BuildContext; release: () => void }> {
    const rel = cleanContextPath(dockerfilePath || 'Dockerfile')
    const tarPath = join(this.#dir, `.tmp-${newId()}.tar`)
    try {
      const hashing = new DigestingStream()
      // A deep write buffer: with the default 16 KiB, each chunk waits for its write before the socket is read
      // again, and the client's upload slows to the disk's round trips.
      await pipeline(maybeDecompress(body), hashing, createWriteStream(tarPath, { mode: 0o600, highWaterMark: 8 * 1024 * 1024 }))
      const key = createHash('sha256').update(`${hashing.digest()}\0${rel}`).digest('hex')
      const dir = join(this.#dir, key)
      this.#inUse.set(key, (this.#inUse.get(key) ?? 0) + 1)
      const release = (): void => {
        const n = (this.#inUse.get(key) ?? 1) - 1
        if (n <= 0) this.#inUse.delete(key)
        else this.#inUse.set(key, n)
      }
      try {
        let rec = await readJson<ContextRecord>(`${dir}.json`).catch(() => undefined)
        if (rec && (await stat(dir).catch(() => undefined))) {
          const now = new Date()
          await utimes(`${dir}.json`, now, now)
        } else {
          rec = await this.#unpack(tarPath, dir, rel, dockerfilePath)
          await this.#evict()
        }
        const digests = new Map(Object.entries(rec.digests).map(([p, d]) => [join(dir, p), d]))
        return { context: { dir, dockerfilePath: rec.dockerfilePath, dockerfile: rec.dockerfile, digests }, release }
      } catch (err) {
        release()
        throw err
      }
    } finally {
      await rm(tarPath, { force: true })
    }
  }

  async #unpack(tarPath: string, dir: string, rel: string, asked: string): Promise<ContextRecord> {
    const tmp = join(this.#dir, `.tmp-${newId()}`)
    await mkdir(tmp, { mode: 0o755 })
    try {
      const byRel = new Map<string, string>()
      await extractTar(createReadStream(tarPath, { highWaterMark: 1024 * 1024 }).pipe(paddedToEnd()), tmp, { digests: byRel, maxEntries: maxContextEntries }).catch((err: unknown) => {
        // What the archive's bytes got wrong is the client's to fix; a system error (a full disk) stays ours.
        if (err instanceof Error && !(err instanceof CaisError) && (err as NodeJS.ErrnoException).code === undefined) {
          throw invalid(`unable to read the build context: ${err.message}`, err)
        }
        throw err
      })
      const dockerfile = await readDockerfile(tmp, rel, asked)
      const specific = await readScopedText(tmp, `/${rel}.dockerignore`, maxDockerfileBytes)
      const ignore = new IgnoreRules(specific ?? (await readScopedText(tmp, '/.dockerignore', maxDockerfileBytes)) ?? '')
      if (!ignore.empty) await dropIgnored(tmp, ignore, new Set([rel, '.dockerignore', `${rel}.dockerignore`]))
      // Read, the Dockerfile and .dockerignore leave the context when the rules exclude them, as in Docker; so
      // does a Dockerfile a client brought from outside the context under a name of its own.
      for (const own of [rel, '.dockerignore']) {
        if (ignore.excludes(own) || (own === rel && /^\.dockerfile\.[0-9a-f]+$/.test(rel))) await rm(join(tmp, own), { force: true })
      }
      const digests: Record<string, string> = {}
      for (const [p, d] of byRel) if (await lstat(join(tmp, p)).then((s) => s.isFile(), () => false)) digests[p] = d
      const rec: ContextRecord = { dockerfilePath: rel, dockerfile, digests }
      // Another build of the same context may have finished first: its copy is as good.
      await rename(tmp, dir).catch(async (err: unknown) => {
        if (!isErrno(err, 'ENOTEMPTY') && !isErrno(err, 'EEXIST')) throw err
      })
      await writeJsonAtomic(`${dir}.json`, rec)
      return rec
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  }

  /** Drops the least recently used contexts beyond the ones kept, unless a build is reading them. */
  async #evict(): Promise<void> {
    const all = await this.#list()
    for (const c of all.slice(KEEP)) if (!this.#inUse.has(c.key)) await this.#remove(c.key)
  }

  async #list(): Promise<Array<{ key: string; lastUsed: number }>> {
    const out: Array<{ key: string; lastUsed: number }> = []
    for (const name of await readdir(this.#dir)) {
      const m = /^([0-9a-f]{64})\.json$/.exec(name)
      if (!m) continue
      const st = await stat(join(this.#dir, name)).catch(() => undefined)
      if (st) out.push({ key: m[1]!, lastUsed: st.mtimeMs })
    }
    return out.sort((a, b) => b.lastUsed - a.lastUsed)
  }

  async #remove(key: string): Promise<void> {
    // The record first: a crash between the two leaves a directory no record names, which a prune removes.
    await rm(join(this.#dir, `${key}.json`), { force: true })
    await rm(join(this.#dir, key), { recursive: true, force: true })
  }

  /** The kept contexts, for `system df` (BuildKit calls them source.local). */
  async usage(): Promise<Array<{ key: string; size: number; lastUsed: number; inUse: boolean }>> {
    return Promise.all((await this.#list()).map(async (c) => ({ ...c, size: await diskUsage(join(this.#dir, c.key)), inUse: this.#inUse.has(c.key) })))
  }

  /** Removes the kept contexts no build is reading (and directories a crash left without a record). */
  async prune(keys?: readonly string[]): Promise<void> {
    const known = new Set((await this.#list()).map((c) => c.key))
    for (const name of await readdir(this.#dir)) {
      if (!/^[0-9a-f]{64}$/.test(name) || this.#inUse.has(name)) continue
      if (!known.has(name) || !keys || keys.includes(name)) await this.#remove(name)
    }
  }
}

/**
 * A context's bounds, far above real ones: its entries (a digest is kept for each file) and its Dockerfile and
 * .dockerignore (read whole). A context made to exhaust the daemon (a tar bomb) is refused instead.
 */
const maxContextEntries = 1_000_000
const maxDockerfileBytes = 16 * 1024 * 1024

/**
 * The Dockerfile, read inside the context: a symlink there (`Dockerfile -> /etc/shadow`) resolves within it, as in
 * Docker's builder, never to a file of the host's.
 */
async function readDockerfile(dir: string, rel: string, asked: string): Promise<string> {
  let text = await readScopedText(dir, `/${rel}`, maxDockerfileBytes)
  // The CLI's default name; some clients send `dockerfile` in lower case.
  if (text === undefined && (asked === '' || asked === 'Dockerfile')) text = await readScopedText(dir, '/dockerfile', maxDockerfileBytes)
  if (text === undefined) throw invalid(`Cannot locate specified Dockerfile: ${asked || 'Dockerfile'}`)
  return text
}

/**
 * Ends a tar stream properly: the docker CLI, adding a Dockerfile from outside the context, sends that last file
 * with neither its padding nor the end-of-archive blocks (dockerd reads such a tar; GNU tar does not).
 */
function paddedToEnd(): Transform {
  let size = 0
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length
      done(null, chunk)
    },
    flush(done) {
      done(null, Buffer.alloc(((512 - (size % 512)) % 512) + 1024))
    },
  })
}

/** A path relative to the context root that stays inside it. */
export function cleanContextPath(p: string): string {
  const clean = posix.normalize(p.replace(/^\/+/, ''))
  if (clean === '..' || clean.startsWith('../')) throw invalid(`forbidden path outside the build context: ${p}`)
  return clean === '.' ? '' : clean.replace(/\/+$/, '')
}

async function dropIgnored(dir: string, ignore: IgnoreRules, keep: Set<string>): Promise<void> {
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(dir, rel))) {
      const path = rel === '' ? name : `${rel}/${name}`
      if (keep.has(path)) continue
      const st = await lstat(join(dir, path))
      if (ignore.excludes(path)) {
        // An excluded directory may still hold a path that a `!` rule takes back.
        if (st.isDirectory() && ignore.hasExceptions) await walk(path)
        else await rm(join(dir, path), { recursive: true, force: true })
      } else if (st.isDirectory()) await walk(path)
    }
  }
  await walk('')
}
