import { createReadStream, createWriteStream } from 'node:fs'
import { chmod, lstat, mkdir, readdir, readlink, rm, symlink, utimes } from 'node:fs/promises'
import { join, posix } from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'

/** A tar of a local file, symlink or directory tree, entries under `name` — what `cais cp` sends. */
export function packLocal(path: string, name: string): Readable {
  const pack = tar.pack()
  const out = new PassThrough()
  const add = async (abs: string, entryName: string): Promise<void> => {
    const st = await lstat(abs)
    const base = { name: entryName, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime }
    if (st.isDirectory()) {
      await entry({ ...base, name: `${entryName}/`, type: 'directory' })
      for (const child of (await readdir(abs)).sort()) await add(join(abs, child), `${entryName}/${child}`)
    } else if (st.isSymbolicLink()) await entry({ ...base, type: 'symlink', linkname: await readlink(abs) })
    else if (st.isFile()) await pipeline(createReadStream(abs), pack.entry({ ...base, type: 'file', size: st.size }))
  }
  const entry = (h: Parameters<typeof pack.entry>[0]): Promise<void> =>
    new Promise((resolve, reject) => pack.entry(h, Buffer.alloc(0), (err) => (err ? reject(err) : resolve())))
  add(path, name).then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err as Error),
  )
  pipeline(pack, out).catch((err: unknown) => out.destroy(err as Error))
  return out
}

/**
 * Unpacks what `cais cp` received into `dir`, the first name of each entry replaced by `rename` when given
 * (copying `ctr:/etc/hosts` to `./h` writes `./h`). No entry may leave `dir`.
 */
export async function unpackLocal(source: Readable, dir: string, rename?: string): Promise<void> {
  const extract = tar.extract()
  extract.on('entry', (header, stream, next) => {
    const handle = async (): Promise<void> => {
      let name = posix.normalize(header.name.replace(/^\/+/, '')).replace(/\/$/, '')
      if (name === '..' || name.startsWith('../')) throw new Error(`invalid tar entry ${header.name}`)
      if (rename !== undefined) name = [rename, ...name.split('/').slice(1)].join('/')
      const target = join(dir, name)
      const mode = (header.mode ?? 0o644) & 0o7777
      if (header.type === 'directory') {
        stream.resume()
        await mkdir(target, { recursive: true })
        await chmod(target, mode)
      } else if (header.type === 'symlink') {
        stream.resume()
        await rm(target, { force: true })
        await symlink(header.linkname ?? '', target)
      } else if (header.type === 'file') {
        await rm(target, { force: true, recursive: false }).catch(() => {})
        await pipeline(stream, createWriteStream(target, { mode }))
        await chmod(target, mode)
        if (header.mtime) await utimes(target, header.mtime, header.mtime)
      } else stream.resume()
    }
    handle().then(() => next(), (err: unknown) => next(err as Error))
  })
  await pipeline(source, extract)
}
