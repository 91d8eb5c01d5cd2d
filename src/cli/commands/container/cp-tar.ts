import { createWriteStream } from 'node:fs'
import { chmod, mkdir, rm, symlink, utimes } from 'node:fs/promises'
import { join, posix } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'

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
