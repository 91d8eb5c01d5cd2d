import { createReadStream } from 'node:fs'
import { lstat, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { PassThrough, type Readable } from 'node:stream'
import tar, { type Header, type Pack } from 'tar-stream'
import { execFile } from './exec.ts'

export interface PackOptions {
  /**
   * The directory is an overlay upper dir: a 0/0 character device is a whiteout and becomes `.wh.<name>`; a
   * directory marked opaque (`trusted.overlay.opaque=y`) gets a `.wh..wh..opq` entry. Otherwise both pass as files.
   */
  overlayWhiteouts?: boolean
  signal?: AbortSignal
}

/**
 * Packs a directory tree into an uncompressed tar, entries in sorted order with relative names (`etc/`,
 * `etc/passwd`), owners, modes, times, symlinks, hard links and device nodes kept, as a layer tar needs them.
 */
export function packDirectory(root: string, opts: PackOptions = {}): Readable {
  return packWith((pack) => fill(pack, root, opts, ''))
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
  const opaque = opts.overlayWhiteouts ? await opaqueDirs(root) : new Set<string>()
  const links = new Map<string, string>()
  const named = (rel: string): string => (prefix === '' ? rel : `${prefix}/${rel}`)
  const walk = async (rel: string): Promise<void> => {
    if (rel !== '' && opaque.has(rel)) await entry(pack, { name: named(`${rel}/.wh..wh..opq`), type: 'file', size: 0, mode: 0o644 })
    for (const name of (await readdir(join(root, rel))).sort()) {
      opts.signal?.throwIfAborted()
      const path = rel === '' ? name : `${rel}/${name}`
      const abs = join(root, path)
      const st = await lstat(abs)
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime }
      if (opts.overlayWhiteouts && st.isCharacterDevice() && st.rdev === 0) {
        await entry(pack, { ...base, name: named(rel === '' ? `.wh.${name}` : `${rel}/.wh.${name}`), type: 'file', size: 0 })
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
function entry(pack: Pack, header: Partial<Header> & { name: string }): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, Buffer.alloc(0), (err) => (err ? reject(err) : resolve())))
}

/** Relative paths of directories under `root` that overlayfs marks opaque. */
async function opaqueDirs(root: string): Promise<Set<string>> {
  // Node has no xattr API; getfattr (package attr) dumps only the matching attribute, recursively.
  const r = await execFile('getfattr', ['-R', '-h', '--absolute-names', '-d', '-m', '^trusted\\.overlay\\.opaque$', root])
  const out = new Set<string>()
  let current: string | undefined
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) current = line.slice('# file: '.length)
    else if (current !== undefined && /^trusted\.overlay\.opaque="y"$/.test(line) && current.startsWith(`${root}/`)) out.add(current.slice(root.length + 1))
  }
  return out
}
