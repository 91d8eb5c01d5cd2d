import { lstat, readFile, readdir, rm } from 'node:fs/promises'
import { join, posix } from 'node:path'
import { type Readable, Transform } from 'node:stream'
import { invalid, isErrno } from '../lib/errors.ts'
import { extractTar, maybeDecompress } from '../lib/tar.ts'
import { IgnoreRules } from '../lib/dockerignore.ts'

/** A build context unpacked on disk, with the Dockerfile it names. */
export interface BuildContext {
  dir: string
  /** The Dockerfile's path relative to the context, as the client named it. */
  dockerfilePath: string
  dockerfile: string
  ignore: IgnoreRules
}

/**
 * Unpacks a context tar (plain, gzip, bzip2 or xz) into `dir` as it streams in, so a context of any size goes
 * to disk and never sits in memory; then drops what `.dockerignore` (or `<Dockerfile>.dockerignore` beside the
 * Dockerfile, which wins) excludes, since not every client applies it before sending.
 */
export async function receiveContext(body: Readable, dir: string, dockerfilePath: string): Promise<BuildContext> {
  await extractTar(maybeDecompress(body).pipe(paddedToEnd()), dir)
  const rel = cleanContextPath(dockerfilePath || 'Dockerfile')
  const dockerfile = await readFile(join(dir, rel), 'utf8').catch(async (err: unknown) => {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err
    // The CLI's default name; some clients send `dockerfile` in lower case.
    if (dockerfilePath === '' || dockerfilePath === 'Dockerfile') {
      const lower = await readFile(join(dir, 'dockerfile'), 'utf8').catch(() => undefined)
      if (lower !== undefined) return lower
    }
    throw invalid(`Cannot locate specified Dockerfile: ${dockerfilePath || 'Dockerfile'}`)
  })
  const specific = await readFile(join(dir, `${rel}.dockerignore`), 'utf8').catch(() => undefined)
  const ignore = new IgnoreRules(specific ?? (await readFile(join(dir, '.dockerignore'), 'utf8').catch(() => '')))
  if (!ignore.empty) await dropIgnored(dir, ignore, new Set([rel, '.dockerignore', `${rel}.dockerignore`]))
  // Read, the Dockerfile and .dockerignore leave the context when the rules exclude them, as in Docker; so does a
  // Dockerfile a client brought from outside the context under a name of its own.
  for (const own of [rel, '.dockerignore']) {
    if (ignore.excludes(own) || (own === rel && /^\.dockerfile\.[0-9a-f]+$/.test(rel))) await rm(join(dir, own), { force: true })
  }
  return { dir, dockerfilePath: rel, dockerfile, ignore }
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
