import { createGunzip } from 'node:zlib'
import { chmod, link, lchown, lstat, lutimes, mkdir, rm, symlink, utimes } from 'node:fs/promises'
import { createWriteStream } from 'node:fs'
import { join, posix } from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'
import { invalid, isErrno } from '../lib/errors.ts'
import { run, shQuote } from '../lib/exec.ts'

export interface ApplyResult {
  /** Bytes of regular files written. */
  size: number
}

const WHITEOUT = '.wh.'
const OPAQUE = '.wh..wh..opq'

/** Cleans a tar entry name into a relative path with no `..`; rejects names that would leave the layer. */
export function cleanEntryName(name: string): string {
  const relative = posix.normalize(name.replace(/^\/+/, ''))
  if (relative === '..' || relative.startsWith('../')) throw invalid(`invalid tar header: path ${JSON.stringify(name)} leaves the archive`)
  return relative === '.' || relative === './' ? '' : relative.replace(/\/$/, '')
}

/** Wraps a stream so that gzip input is decompressed and plain input passes through (detected by magic bytes). */
export function maybeGunzip(source: Readable): Readable {
  const out = new PassThrough()
  let decided = false
  const onData = (chunk: Buffer): void => {
    if (decided) return
    decided = true
    source.off('data', onData)
    source.pause()
    source.unshift(chunk)
    const gz = chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b
    pipeline(gz ? [source, createGunzip(), out] : [source, out]).catch((err: unknown) => out.destroy(err as Error))
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

/**
 * Unpacks one layer tar into `dir` as an overlayfs layer: `.wh.NAME` entries become 0/0 character devices,
 * `.wh..wh..opq` marks its directory opaque. Ownership, modes, times and xattrs are kept.
 * No entry may write through a symlink or outside `dir`.
 */
export async function applyLayerTar(
  source: Readable,
  dir: string,
  opts: {
    /** false: `.wh.` names are ordinary files (a `docker cp`, not a layer). */
    whiteouts?: boolean
    /** Every entry owned by this user and group instead of the tar's. */
    owner?: { uid: number; gid: number }
  } = {},
): Promise<ApplyResult> {
  const whiteouts = opts.whiteouts ?? true
  const extract = tar.extract()
  const knownDirs = new Set<string>([''])
  const dirTimes: Array<[string, Date]> = []
  const special: string[] = [] // shell lines for mknod/mkfifo, which Node cannot do
  const xattrs: string[] = [] // setfattr --restore input
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

  const removeExisting = async (path: string): Promise<void> => {
    const st = await lstat(path).catch(() => undefined)
    if (st && !st.isDirectory()) await rm(path, { force: true })
  }

  extract.on('entry', (header, stream, next) => {
    const handle = async (): Promise<void> => {
      const rel = cleanEntryName(header.name)
      if (rel === '') {
        stream.resume()
        return
      }
      await ensureParents(rel)
      const target = join(dir, rel)
      const base = posix.basename(rel)
      const parentRel = posix.dirname(rel) === '.' ? '' : posix.dirname(rel)
      if (whiteouts && base === OPAQUE) {
        stream.resume()
        xattrs.push(`# file: ${escapeAttrPath(join(dir, parentRel))}\ntrusted.overlay.opaque="y"\n`)
        return
      }
      if (whiteouts && base.startsWith(WHITEOUT)) {
        stream.resume()
        const hidden = join(dir, parentRel, base.slice(WHITEOUT.length))
        special.push(`rm -rf ${shQuote(hidden)} && mknod ${shQuote(hidden)} c 0 0`)
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
          await pipeline(stream, createWriteStream(target, { mode }))
          size += header.size ?? 0
          await lchown(target, uid, gid)
          await chmod(target, mode) // the umask may have cut bits off
          await utimes(target, mtime, mtime)
          break
        }
        case 'symlink': {
          stream.resume()
          await removeExisting(target)
          await symlink(header.linkname ?? '', target)
          await lchown(target, uid, gid)
          await lutimes(target, mtime, mtime).catch(() => {})
          break
        }
        case 'link': {
          stream.resume()
          const source = join(dir, cleanEntryName(header.linkname ?? ''))
          await removeExisting(target)
          await link(source, target)
          break
        }
        case 'character-device':
        case 'block-device':
        case 'fifo': {
          stream.resume()
          const kind = header.type === 'fifo' ? 'p' : header.type === 'character-device' ? 'c' : 'b'
          const nums = kind === 'p' ? '' : ` ${header.devmajor ?? 0} ${header.devminor ?? 0}`
          special.push(
            `rm -f ${shQuote(target)} && mknod -m ${mode.toString(8)} ${shQuote(target)} ${kind}${nums} && chown -h ${uid}:${gid} ${shQuote(target)}`,
          )
          break
        }
        default:
          stream.resume() // pax headers and other metadata are folded into entries by tar-stream
      }
      const pax = (header.pax ?? {}) as Record<string, string>
      const attrs = Object.entries(pax).filter(([k]) => k.startsWith('SCHILY.xattr.'))
      if (attrs.length > 0) {
        xattrs.push(
          `# file: ${escapeAttrPath(target)}\n` +
            attrs.map(([k, v]) => `${k.slice('SCHILY.xattr.'.length)}=0x${Buffer.from(v, 'latin1').toString('hex')}`).join('\n') +
            '\n',
        )
      }
    }
    handle().then(() => next(), (err: unknown) => next(err as Error))
  })

  await pipeline(maybeGunzip(source), extract)
  if (special.length > 0) await run('/bin/sh', ['-ec', special.join('\n')])
  if (xattrs.length > 0) await run('setfattr', ['--restore=-'], { input: xattrs.join('\n') })
  for (const [path, time] of dirTimes.reverse()) await utimes(path, time, time)
  return { size }
}

/** getfattr/setfattr dump format escapes unusual characters in octal. */
function escapeAttrPath(path: string): string {
  return path.replace(/[\\\n\r]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`)
}
