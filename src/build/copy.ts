import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { chmod, copyFile, lchown, lstat, mkdir, open, readdir, readlink, rm, symlink, utimes } from 'node:fs/promises'
import { basename, dirname, join, posix } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { type ContainerFs, resolveInContainer } from '../containers/archive.ts'
import type { VolumeService } from '../volumes/service.ts'
import { invalid } from '../lib/errors.ts'
import { extractTar, looksLikeTar, maybeDecompress } from '../lib/tar.ts'

/** One file tree a COPY or ADD takes from: a path resolved inside its root (the context, or a stage's rootfs). */
export interface CopySource {
  /** Host path of the source. */
  host: string
  /** The name a single file keeps at a directory destination. */
  name: string
  /** The source's path relative to its root, which `--parents` keeps under the destination. */
  rel: string
  keepPath?: boolean
  /** ADD: a local tar archive is unpacked rather than copied. */
  unpack?: boolean
}

export interface CopyOptions {
  /** Owner of everything copied and of directories made for it (Docker: 0:0 unless --chown). */
  owner: { uid: number; gid: number }
  /** --chmod: the mode of everything copied. */
  mode?: number
  /** --exclude patterns (matched against paths relative to each source). */
  exclude?: (rel: string) => boolean
}

const GLOB = /[*?[\\]/

/** A plain tree (a context, a rootfs with no mounts) for resolveInContainer, which then never reaches for volumes. */
const treeAt = (root: string): ContainerFs => ({ root, mounts: [], volumes: undefined as unknown as VolumeService })

/**
 * Resolves a COPY source pattern inside `root`: a plain path (its symlinks followed, never out of `root`) or a
 * pattern with `*`, `?` and `[...]` matched element by element, as Docker's filepath.Match does.
 */
export async function resolveSources(root: string, pattern: string, what: string): Promise<CopySource[]> {
  const clean = posix.normalize(`/${pattern}`)
  const noEmpty = treeAt(root)
  if (!GLOB.test(clean)) {
    const { host } = await resolveInContainer(noEmpty, clean, true)
    const st = await lstat(host).catch(() => undefined)
    if (!st) throw invalid(`COPY failed: file not found in ${what}${what === 'build context' ? ' or excluded by .dockerignore' : ''}: stat ${pattern}: file does not exist`)
    return [{ host, name: basename(clean) || '.', rel: clean.slice(1) }]
  }
  const parts = clean.split('/').filter((p) => p !== '')
  let matches = ['']
  for (const part of parts) {
    const next: string[] = []
    const re = GLOB.test(part) ? elementRegExp(part) : undefined
    for (const m of matches) {
      const dir = join(root, m)
      if (!re) {
        if (await lstat(join(dir, part)).catch(() => undefined)) next.push(`${m}/${part}`)
        continue
      }
      const names = await readdir(dir).catch(() => [] as string[])
      for (const name of names.sort()) if (re.test(name)) next.push(`${m}/${name}`)
    }
    matches = next
  }
  if (matches.length === 0) throw invalid(`COPY failed: no source files were specified: ${pattern} matches nothing in ${what}`)
  return Promise.all(matches.map(async (m) => ({ host: (await resolveInContainer(noEmpty, m, true)).host, name: posix.basename(m), rel: m.slice(1) })))
}

function elementRegExp(part: string): RegExp {
  let re = ''
  for (let i = 0; i < part.length; i++) {
    const c = part[i]!
    if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else if (c === '[') {
      const end = part.indexOf(']', i + 1)
      if (end < 0) throw invalid(`syntax error in pattern: ${part}`)
      re += `[${part.slice(i + 1, end).replace(/^\^|^!/, '^').replace(/\\/g, '\\\\')}]`
      i = end
    } else if (c === '\\' && i + 1 < part.length) re += `\\${part[++i]}`
    else re += /[.+^${}()|\]\\]/.test(c) ? `\\${c}` : c
  }
  return new RegExp(`^${re}$`, 's')
}

/**
 * Copies sources to `dest` (a clean absolute path in the container) inside `rootfs`, by Docker's rules: a
 * directory's contents (not the directory) go into `dest`; a file goes to `dest/<name>` when `dest` ends in `/`,
 * there are several sources, or `dest` is an existing directory, and to `dest` itself otherwise; ADD unpacks
 * local tar archives into `dest`.
 */
export async function copyToRootfs(rootfs: string, sources: readonly CopySource[], dest: string, opts: CopyOptions): Promise<void> {
  const fs = treeAt(rootfs)
  const destIsDir = dest.endsWith('/') || sources.length > 1
  if (sources.length > 1 && !dest.endsWith('/') && !sources.every((s) => s.keepPath)) throw invalid('When using COPY with more than one source file, the destination must be a directory and end with a /')
  const target = await resolveInContainer(fs, dest, true)
  const existing = await lstat(target.host).catch(() => undefined)
  for (const source of sources) {
    const st = await lstat(source.host)
    if (st.isDirectory() || source.unpack) {
      const dir = source.keepPath ? join(target.host, source.rel) : target.host
      await makeDirs(rootfs, dir, opts.owner)
      if (source.unpack) await extractTar(maybeDecompress(createReadStream(source.host)), dir)
      else await copyTree(source.host, dir, opts, '')
      continue
    }
    const intoDir = destIsDir || existing?.isDirectory() === true
    const file = source.keepPath ? join(target.host, source.rel) : intoDir ? join(target.host, source.name) : target.host
    await makeDirs(rootfs, dirname(file), opts.owner)
    await copyEntry(source.host, file, opts)
  }
}

/** Makes `dir` and its missing parents inside `rootfs`, owned by `owner`. */
async function makeDirs(rootfs: string, dir: string, owner: { uid: number; gid: number }): Promise<void> {
  const missing: string[] = []
  for (let d = dir; d.startsWith(rootfs) && d !== rootfs; d = dirname(d)) {
    const st = await lstat(d).catch(() => undefined)
    if (st) {
      if (!st.isDirectory()) throw invalid(`cannot copy to ${d.slice(rootfs.length)}: not a directory`)
      break
    }
    missing.unshift(d)
  }
  for (const d of missing) {
    await mkdir(d, { mode: 0o755 })
    await lchown(d, owner.uid, owner.gid)
  }
}

async function copyTree(from: string, to: string, opts: CopyOptions, rel: string): Promise<void> {
  for (const name of (await readdir(from)).sort()) {
    const relPath = rel === '' ? name : `${rel}/${name}`
    if (opts.exclude?.(relPath)) continue
    const src = join(from, name)
    const dst = join(to, name)
    const st = await lstat(src)
    if (st.isDirectory()) {
      const existing = await lstat(dst).catch(() => undefined)
      if (existing && !existing.isDirectory()) await rm(dst, { force: true })
      if (!existing?.isDirectory()) await mkdir(dst)
      await copyTree(src, dst, opts, relPath)
      await lchown(dst, opts.owner.uid, opts.owner.gid)
      await chmod(dst, opts.mode ?? st.mode & 0o7777)
      await utimes(dst, st.atime, st.mtime)
    } else await copyEntry(src, dst, opts)
  }
}

/** Copies one non-directory entry, keeping its mode and time; the owner is the copy's. */
async function copyEntry(src: string, dst: string, opts: CopyOptions): Promise<void> {
  const st = await lstat(src)
  const existing = await lstat(dst).catch(() => undefined)
  if (existing?.isDirectory()) throw invalid(`cannot overwrite directory ${dst} with non-directory ${basename(src)}`)
  if (existing) await rm(dst, { force: true })
  if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dst)
    await lchown(dst, opts.owner.uid, opts.owner.gid)
    return
  }
  if (!st.isFile()) return // devices, fifos and sockets are not copied from a context
  await copyFile(src, dst)
  await lchown(dst, opts.owner.uid, opts.owner.gid)
  await chmod(dst, opts.mode ?? st.mode & 0o7777)
  await utimes(dst, st.atime, st.mtime)
}

/**
 * The content hash of the sources, for the cache: paths, types, modes, link targets and file contents; never
 * owners (COPY decides them) or times. Docker's history names it `file:<hash>` or `dir:<hash>`.
 */
export async function hashSources(sources: readonly CopySource[], exclude?: (rel: string) => boolean, known?: ReadonlyMap<string, string>): Promise<string> {
  const h = createHash('sha256')
  const add = async (path: string, rel: string): Promise<void> => {
    const st = await lstat(path)
    if (st.isDirectory()) {
      h.update(`d ${rel} ${(st.mode & 0o7777).toString(8)}\0`)
      for (const name of (await readdir(path)).sort()) {
        const childRel = rel === '' ? name : `${rel}/${name}`
        if (exclude?.(childRel)) continue
        await add(join(path, name), childRel)
      }
    } else if (st.isSymbolicLink()) h.update(`l ${rel} ${await readlink(path)}\0`)
    else if (st.isFile()) {
      h.update(`f ${rel} ${(st.mode & 0o7777).toString(8)} ${st.size}\0`)
      // A context file's digest was taken as it arrived; other files are read now.
      const digest = known?.get(path)
      if (digest !== undefined) h.update(digest)
      else {
        const fh = createHash('sha256')
        for await (const c of createReadStream(path, { highWaterMark: 1024 * 1024 })) fh.update(c as Buffer)
        h.update(fh.digest('hex'))
      }
    }
  }
  for (const s of sources) {
    h.update(`source ${s.name} ${s.unpack ? 'unpack' : ''}\0`)
    await add(s.host, '')
  }
  return h.digest('hex')
}

/** Whether an ADD source on disk is a tar archive (plain or compressed) that ADD unpacks. */
export async function isArchive(path: string): Promise<boolean> {
  const st = await lstat(path)
  if (!st.isFile() || st.size < 6) return false
  const fh = await open(path, 'r')
  try {
    const head = Buffer.alloc(512)
    const { bytesRead } = await fh.read(head, 0, 512, 0)
    return looksLikeTar(head.subarray(0, bytesRead))
  } finally {
    await fh.close()
  }
}

/** ADD of a URL: the file downloaded into `dir`, named after the URL's last path element, mode 0600. */
export async function download(url: string, dir: string, signal: AbortSignal): Promise<CopySource> {
  let res: Response
  try {
    res = await fetch(url, { signal, redirect: 'follow' })
  } catch (err) {
    throw invalid(`failed to GET ${url}: ${err instanceof Error ? err.message : String(err)}`, err)
  }
  if (!res.ok || !res.body) throw invalid(`failed to GET ${url} with status ${res.status} ${res.statusText}`)
  const name = decodeURIComponent(new URL(url).pathname.split('/').filter((p) => p !== '').at(-1) ?? '') || '__unnamed__'
  const path = join(dir, `download-${createHash('sha256').update(url).digest('hex').slice(0, 16)}`)
  await mkdir(path, { recursive: true })
  const file = join(path, name)
  await pipeline(res.body as unknown as NodeJS.ReadableStream, createWriteStream(file, { mode: 0o600 }))
  await chmod(file, 0o600)
  const modified = Date.parse(res.headers.get('last-modified') ?? '')
  if (!Number.isNaN(modified)) await utimes(file, new Date(modified), new Date(modified))
  return { host: file, name, rel: name }
}
