// Tar packing and unpacking of trees, the one tar module: docker cp, export, image archives and, through the
// markers and interceptions of snapshots/overlay-tar.ts, image layers.
import { type Stats, createReadStream, createWriteStream } from 'node:fs'
import { chmod, link, lchown, lstat, lutimes, mkdir, readdir, readlink, rm, symlink, utimes } from 'node:fs/promises'
import { join, posix, relative } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { Duplex, PassThrough, type Readable, Transform } from 'node:stream'
import { createGunzip } from 'node:zlib'
import tar, { type Header, type Pack } from 'tar-stream'
import { run, shQuote } from './exec.ts'
import { invalid, isErrno } from './errors.ts'

export interface PackOptions {
  signal?: AbortSignal
  /** How a layer format marks what a plain tree cannot say (overlay whiteouts: snapshots/overlay-tar.ts). */
  markers?: PackMarkers
  /** No entry's time later than this (`SOURCE_DATE_EPOCH`), so the same tree packs to the same bytes. */
  clampMtime?: Date
  /** Leaves out an entry (and, for a directory, what is below it) when this says so of its relative path. */
  skip?: (rel: string, isDir: boolean) => boolean
  /** Every entry owned by this user and group (a build context is sent as root's, as the docker CLI does). */
  owner?: { uid: number; gid: number }
  /** Files added after the tree (a Dockerfile from outside the context). */
  extra?: Array<{ name: string; data: Buffer }>
}

/** Hooks for a layer format's markers while a tree is packed. */
export interface PackMarkers {
  /** Called once before the walk (to read what it needs of the tree). */
  prepare?(root: string): Promise<void>
  /** Names of empty marker files to put first in a directory (`rel`, '' for the root). */
  markersIn?(rel: string): string[]
  /** The name of an empty marker file that stands for this entry instead of it; undefined keeps the entry. */
  markerFor?(name: string, st: Stats): string | undefined
}

/**
 * Packs a directory tree into an uncompressed tar, entries in sorted order with relative names (`etc/`,
 * `etc/passwd`), owners, modes, times, symlinks, hard links and device nodes kept, as a layer tar needs them.
 */
export function packDirectory(root: string, opts: PackOptions = {}): Readable {
  return packWith(async (pack) => {
    await fill(pack, root, opts, '')
    for (const f of opts.extra ?? []) await entry(pack, { name: f.name, type: 'file', size: f.data.length, mode: 0o600, mtime: new Date() }, f.data)
  })
}

/**
 * Packs one path under the name `name`: a file or symlink as one entry, a directory as `name/` and everything
 * below it (`name/...`). `docker cp` sends what it copies this way.
 */
export function packPath(path: string, name: string, opts: PackOptions = {}): Readable {
  return packWith(async (pack) => {
    const st = await lstat(path)
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime }
    if (st.isDirectory()) {
      await entry(pack, { ...base, name: `${name}/`, type: 'directory' })
      await fill(pack, path, opts, name)
    } else if (st.isSymbolicLink()) await entry(pack, { ...base, name, type: 'symlink', linkname: await readlink(path) })
    else if (st.isFile()) await pipeline(createReadStream(path), pack.entry({ ...base, name, type: 'file', size: st.size }))
    else throw new Error(`cannot copy ${name}: not a file, directory or symlink`)
  })
}

function packWith(fillPack: (pack: Pack) => Promise<void>): Readable {
  const pack = tar.pack()
  const out = new PassThrough()
  fillPack(pack).then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err as Error),
  )
  // tar-stream's pack is a streamx stream; callers get a Node stream that carries its errors.
  pipeline(pack, out).catch((err: unknown) => out.destroy(err as Error))
  return out
}

/** Packs what is below `root`, entry names under `prefix` (none: relative names). */
async function fill(pack: Pack, root: string, opts: PackOptions, prefix: string): Promise<void> {
  const markers = opts.markers
  await markers?.prepare?.(root)
  const links = new Map<string, string>()
  const named = (rel: string): string => (prefix === '' ? rel : `${prefix}/${rel}`)
  const walk = async (rel: string): Promise<void> => {
    for (const marker of markers?.markersIn?.(rel) ?? []) {
      await entry(pack, { name: named(rel === '' ? marker : `${rel}/${marker}`), type: 'file', size: 0, mode: 0o644, ...(opts.clampMtime ? { mtime: opts.clampMtime } : {}) })
    }
    for (const name of (await readdir(join(root, rel))).sort()) {
      opts.signal?.throwIfAborted()
      const path = rel === '' ? name : `${rel}/${name}`
      const abs = join(root, path)
      const st = await lstat(abs)
      if (opts.skip?.(path, st.isDirectory())) continue
      const mtime = opts.clampMtime && st.mtime > opts.clampMtime ? opts.clampMtime : st.mtime
      const base = { mode: st.mode & 0o7777, uid: opts.owner?.uid ?? st.uid, gid: opts.owner?.gid ?? st.gid, mtime }
      const marker = markers?.markerFor?.(name, st)
      if (marker !== undefined) {
        await entry(pack, { ...base, name: named(rel === '' ? marker : `${rel}/${marker}`), type: 'file', size: 0 })
      } else if (st.isDirectory()) {
        await entry(pack, { ...base, name: `${named(path)}/`, type: 'directory' })
        await walk(path)
      } else if (st.isSymbolicLink()) {
        await entry(pack, { ...base, name: named(path), type: 'symlink', linkname: await readlink(abs) })
      } else if (st.isFile()) {
        const inode = `${st.dev}:${st.ino}`
        const first = st.nlink > 1 ? links.get(inode) : undefined
        if (first !== undefined) {
          await entry(pack, { ...base, name: named(path), type: 'link', linkname: named(first), size: 0 })
          continue
        }
        if (st.nlink > 1) links.set(inode, path)
        const out = pack.entry({ ...base, name: named(path), type: 'file', size: st.size })
        await pipeline(createReadStream(abs), out)
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const major = (st.rdev >> 8) & 0xfff
        const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)
        await entry(pack, { ...base, name: named(path), type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: major, devminor: minor })
      } else if (st.isFIFO()) {
        await entry(pack, { ...base, name: named(path), type: 'fifo' })
      }
      // Sockets have no tar form; Docker skips them too.
    }
  }
  await walk('')
}

/** Writes one entry with no body. A `file` needs an explicit empty body, or tar-stream waits for one. */
function entry(pack: Pack, header: Partial<Header> & { name: string }, data: Buffer = Buffer.alloc(0)): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, data, (err) => (err ? reject(err) : resolve())))
}

/** Cleans a tar entry name into a relative path with no `..`; rejects names that would leave the layer. */
export function cleanEntryName(name: string): string {
  const relative = posix.normalize(name.replace(/^\/+/, ''))
  if (relative === '..' || relative.startsWith('../')) throw invalid(`invalid tar header: path ${JSON.stringify(name)} leaves the archive`)
  return relative === '.' || relative === './' ? '' : relative.replace(/\/$/, '')
}

/** Wraps a stream so that gzip input is decompressed and plain input passes through (detected by magic bytes). */
export function maybeGunzip(source: Readable): Readable {
  return decompressing(source, (chunk) => (compressionOf(chunk) === 'gzip' ? createGunzip() : undefined))
}

export type Compression = 'gzip' | 'bzip2' | 'xz' | 'none'

/** The compression a stream's first bytes announce. */
export function compressionOf(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip'
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2'
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz'
  return 'none'
}

/** Whether a stream's first bytes (512 or more) are a tar archive's, compressed or not. */
export function looksLikeTar(head: Buffer): boolean {
  return compressionOf(head) !== 'none' || (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar')
}

/** Like maybeGunzip, for gzip, bzip2 and xz (the last two through Debian's bzip2 and xz tools), as a build context may come. */
export function maybeDecompress(source: Readable): Readable {
  return decompressing(source, (chunk) => {
    const kind = compressionOf(chunk)
    if (kind === 'gzip') return createGunzip()
    if (kind === 'none') return undefined
    const child = spawn(kind, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout })
    child.on('exit', (code) => {
      if (code !== 0) duplex.destroy(new Error(`${kind}: ${stderr.trim() || `exit status ${code}`}`))
    })
    child.on('error', (err) => duplex.destroy(err))
    return duplex
  })
}

function decompressing(source: Readable, decoderFor: (head: Buffer) => Duplex | undefined): Readable {
  const out = new PassThrough()
  let decided = false
  const onData = (chunk: Buffer): void => {
    if (decided) return
    decided = true
    source.off('data', onData)
    source.pause()
    source.unshift(chunk)
    const decoder = decoderFor(chunk)
    pipeline(decoder ? [source, decoder, out] : [source, out]).catch((err: unknown) => out.destroy(err as Error))
  }
  source.on('data', onData)
  source.once('end', () => {
    if (!decided) out.end()
  })
  source.once('error', (err) => {
    if (!decided) out.destroy(err)
  })
  return out
}

/** How much of a file being unpacked may wait for the disk: enough that reading the tar never waits for each write. */
const FILE_WRITE_BUFFER = 4 * 1024 * 1024

/** What a layer format makes of an entry instead of unpacking it (see ExtractOptions.intercept). */
export type ExtractAction =
  /** A line for /bin/sh, run after the tar (Node cannot mknod), e.g. a whiteout device. */
  | { shell: string }
  /** An extended attribute set after the tar, e.g. an opaque-directory mark. */
  | { xattr: { path: string; name: string; value: string } }

export interface ExtractOptions {
  /** Every entry owned by this user and group instead of the tar's. */
  owner?: { uid: number; gid: number }
  /** A layer format's markers: an entry it returns an action for is not unpacked (`base` is the entry's name). */
  intercept?: (entry: { base: string; parent: string }) => ExtractAction | undefined
  /** Filled with the sha256 (hex) of each regular file's content, by relative path, hashed as it is written. */
  digests?: Map<string, string>
  /** More entries than this are refused: what is kept per entry (a digest, a directory's time) stays bounded. */
  maxEntries?: number
}

/**
 * A hard link's source must be something already unpacked in `dir`, reached through real directories only, and not
 * a directory: a source path through a symlink the archive planted (`evil -> /`, then a link to `evil/etc/shadow`)
 * would link a host file into the tree, which a container could then write.
 */
async function checkLinkSource(dir: string, sourceRel: string, rel: string): Promise<void> {
  const refuse = (why: string): never => {
    throw invalid(`invalid tar: hard link ${rel} to ${sourceRel || '.'}: ${why}`)
  }
  if (sourceRel === '') refuse('no source')
  const parts = sourceRel.split('/')
  let cur = dir
  for (const [i, part] of parts.entries()) {
    cur = join(cur, part)
    const st = await lstat(cur).catch(() => undefined)
    if (!st) refuse('no such file in the archive')
    if (i < parts.length - 1 && !st!.isDirectory()) refuse(`${parts.slice(0, i + 1).join('/')} is not a directory`)
    if (i === parts.length - 1 && st!.isDirectory()) refuse('a directory')
  }
}

/**
 * Unpacks a tar (gzip or not) into `dir`, which must exist. Ownership, modes, times, links, device nodes and
 * xattrs are kept. No entry may write through a symlink or outside `dir`. Returns the bytes of files written.
 */
export async function extractTar(source: Readable, dir: string, opts: ExtractOptions = {}): Promise<{ size: number }> {
  const extract = tar.extract()
  const knownDirs = new Set<string>([''])
  const dirTimes: Array<[string, Date]> = []
  // Done after the entries, each for a path: shell lines for mknod/mkfifo, which Node cannot do; setfattr input.
  const special: Array<{ path: string; text: string }> = []
  const xattrs: Array<{ path: string; text: string }> = []
  let size = 0

  const ensureParents = async (rel: string): Promise<void> => {
    const parts = rel.split('/')
    let cur = ''
    for (const part of parts.slice(0, -1)) {
      cur = cur ? `${cur}/${part}` : part
      if (knownDirs.has(cur)) continue
      try {
        const st = await lstat(join(dir, cur))
        if (!st.isDirectory()) throw invalid(`invalid tar: ${rel} goes through a non-directory ${cur}`)
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err
        await mkdir(join(dir, cur), { mode: 0o755 })
      }
      knownDirs.add(cur)
    }
  }

  // A later entry replaces what an earlier one put at its path, a directory too (Docker's untar does the same).
  const removeExisting = async (path: string): Promise<void> => {
    const st = await lstat(path).catch(() => undefined)
    if (!st) return
    await rm(path, { force: true, recursive: st.isDirectory() })
    const under = (p: string): boolean => p === path || p.startsWith(`${path}/`)
    for (const list of [special, xattrs]) for (let i = list.length - 1; i >= 0; i--) if (under(list[i]!.path)) list.splice(i, 1)
    if (st.isDirectory()) {
      // Nothing may be done later at a path below it: a symlink may take its place (`utimes` would follow it).
      const rel = relative(dir, path)
      for (const d of knownDirs) if (d === rel || d.startsWith(`${rel}/`)) knownDirs.delete(d)
      for (let i = dirTimes.length - 1; i >= 0; i--) if (dirTimes[i]![0] === path || dirTimes[i]![0].startsWith(`${path}/`)) dirTimes.splice(i, 1)
    }
  }

  let entries = 0
  extract.on('entry', (header, stream, next) => {
    const handle = async (): Promise<void> => {
      if (opts.maxEntries !== undefined && ++entries > opts.maxEntries) throw invalid(`invalid tar: more than ${opts.maxEntries} entries`)
      const rel = cleanEntryName(header.name)
      if (rel === '') {
        stream.resume()
        return
      }
      await ensureParents(rel)
      const target = join(dir, rel)
      const base = posix.basename(rel)
      const parentRel = posix.dirname(rel) === '.' ? '' : posix.dirname(rel)
      const action = opts.intercept?.({ base, parent: join(dir, parentRel) })
      if (action) {
        stream.resume()
        if ('shell' in action) special.push({ path: target, text: action.shell })
        else xattrs.push({ path: action.xattr.path, text: `# file: ${escapeAttrPath(action.xattr.path)}\n${action.xattr.name}=${action.xattr.value}\n` })
        return
      }
      const mode = (header.mode ?? 0o644) & 0o7777
      const uid = opts.owner?.uid ?? header.uid ?? 0
      const gid = opts.owner?.gid ?? header.gid ?? 0
      const mtime = header.mtime ?? new Date(0)
      switch (header.type) {
        case 'directory': {
          stream.resume()
          const st = await lstat(target).catch(() => undefined)
          if (st && !st.isDirectory()) await rm(target, { force: true })
          if (!st?.isDirectory()) await mkdir(target, { mode })
          knownDirs.add(rel)
          await lchown(target, uid, gid)
          await chmod(target, mode)
          dirTimes.push([target, mtime])
          break
        }
        case 'file':
        case 'contiguous-file': {
          await removeExisting(target)
          if (opts.digests) {
            const hash = createHash('sha256')
            const digesting = new Transform({
              transform(chunk: Buffer, _enc, done) {
                hash.update(chunk)
                done(null, chunk)
              },
            })
            await pipeline(stream, digesting, createWriteStream(target, { mode, highWaterMark: FILE_WRITE_BUFFER }))
            opts.digests.set(rel, hash.digest('hex'))
          } else await pipeline(stream, createWriteStream(target, { mode, highWaterMark: FILE_WRITE_BUFFER }))
          size += header.size ?? 0
          await lchown(target, uid, gid)
          await chmod(target, mode) // the umask may have cut bits off
          await utimes(target, mtime, mtime)
          break
        }
        case 'symlink': {
          stream.resume()
          if (!header.linkname) throw invalid(`invalid tar: symlink ${rel} has no target`)
          await removeExisting(target)
          await symlink(header.linkname ?? '', target)
          await lchown(target, uid, gid)
          await lutimes(target, mtime, mtime).catch(() => {})
          break
        }
        case 'link': {
          stream.resume()
          const sourceRel = cleanEntryName(header.linkname ?? '')
          await checkLinkSource(dir, sourceRel, rel)
          await removeExisting(target)
          await link(join(dir, sourceRel), target)
          break
        }
        case 'character-device':
        case 'block-device':
        case 'fifo': {
          stream.resume()
          const kind = header.type === 'fifo' ? 'p' : header.type === 'character-device' ? 'c' : 'b'
          const nums = kind === 'p' ? '' : ` ${header.devmajor ?? 0} ${header.devminor ?? 0}`
          special.push({
            path: target,
            text: `rm -f ${shQuote(target)} && mknod -m ${mode.toString(8)} ${shQuote(target)} ${kind}${nums} && chown -h ${uid}:${gid} ${shQuote(target)}`,
          })
          break
        }
        default:
          stream.resume() // pax headers and other metadata are folded into entries by tar-stream
      }
      const pax = (header.pax ?? {}) as Record<string, string>
      const attrs = Object.entries(pax).filter(([k]) => k.startsWith('SCHILY.xattr.'))
      if (attrs.length > 0) {
        xattrs.push({
          path: target,
          text:
            `# file: ${escapeAttrPath(target)}\n` +
            attrs.map(([k, v]) => `${k.slice('SCHILY.xattr.'.length)}=0x${Buffer.from(v, 'latin1').toString('hex')}`).join('\n') +
            '\n',
        })
      }
    }
    handle().then(() => next(), (err: unknown) => next(err as Error))
  })

  await pipeline(maybeGunzip(source), extract)
  if (special.length > 0) await run('/bin/sh', ['-ec', special.map((x) => x.text).join('\n')])
  if (xattrs.length > 0) await run('setfattr', ['--restore=-'], { input: xattrs.map((x) => x.text).join('\n') })
  for (const [path, time] of dirTimes.reverse()) await utimes(path, time, time)
  return { size }
}

/** getfattr/setfattr dump format escapes unusual characters in octal. */
function escapeAttrPath(path: string): string {
  return path.replace(/[\\\n\r]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`)
}
