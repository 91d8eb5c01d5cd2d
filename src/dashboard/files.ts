import { once } from 'node:events'
import { posix } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ServerResponse } from 'node:http'
import tar from 'tar-stream'
import type { EngineClient } from '../client/engine-client.ts'
import { HttpError } from './http-util.ts'
import type { EntryKind } from './layer-analysis.ts'
import { kindOf } from './layer-index.ts'

/**
 * A container's files through the archive API (`GET/PUT /containers/{id}/archive`), so stopped containers work and
 * the engine resolves every path inside the container: a `..` or a symlink cannot lead out of it.
 */
export interface FileEntry {
  name: string
  kind: EntryKind
  size: number
  mode: number
  modified: number
  link?: string
}

/** A path as the dashboard accepts it: absolute, no NUL. */
export function containerPath(value: string | null): string {
  if (!value || !value.startsWith('/') || value.includes('\0')) throw new HttpError(400, 'path must be an absolute path in the container')
  return posix.normalize(value)
}

/** The entries directly inside a directory: the archive's tar read once, file bodies skipped. */
export async function listDirectory(client: EngineClient, id: string, path: string): Promise<{ path: string; entries: FileEntry[] }> {
  const { stat, tar: stream } = await client.containers.getArchive(id, path)
  const isDir = (stat.mode & 0x80000000) !== 0
  if (!isDir) {
    stream.resume()
    throw new HttpError(400, `${path} is not a directory`)
  }
  const entries: FileEntry[] = []
  const base = posix.basename(path)
  /** The entry's name inside the directory when it is a direct child: archives name entries `etc/hosts` for /etc. */
  const childName = (entry: string): string | undefined => {
    let name = entry.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '')
    if (base) {
      if (!name.startsWith(`${base}/`)) return undefined
      name = name.slice(base.length + 1)
    }
    return name && name !== '.' && !name.includes('/') ? name : undefined
  }
  const extract = tar.extract()
  extract.on('entry', (h, body, next) => {
    const name = childName(h.name)
    if (name) {
      const kind = kindOf(h.type)
      entries.push({ name, kind, size: h.size ?? 0, mode: h.mode ?? 0, modified: (h.mtime?.getTime() ?? 0) / 1000, ...(h.linkname ? { link: h.linkname } : {}) })
    }
    body.once('end', () => next())
    body.resume()
  })
  await pipeline(stream, extract)
  entries.sort((a, b) => Number(b.kind === 'dir') - Number(a.kind === 'dir') || (a.name < b.name ? -1 : 1))
  return { path, entries }
}

/** A file as itself; a directory as a tar of it (named `name`, else after the path). Streamed as the engine sends it. */
export async function download(client: EngineClient, id: string, path: string, res: ServerResponse, name = posix.basename(path) || 'root'): Promise<void> {
  const { stat, tar: stream } = await client.containers.getArchive(id, path)
  const safe = name.replace(/[^\w.-]/g, '_')
  if ((stat.mode & 0x80000000) !== 0) {
    res.writeHead(200, { 'Content-Type': 'application/x-tar', 'Content-Disposition': `attachment; filename="${safe}.tar"`, 'Cache-Control': 'no-store' })
    await pipeline(stream, res)
    return
  }
  const extract = tar.extract()
  let sent = false
  extract.on('entry', (h, body, next) => {
    if (sent || (h.type !== 'file' && h.type !== 'contiguous-file')) {
      body.once('end', () => next())
      body.resume()
      return
    }
    sent = true
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': h.size ?? 0, 'Content-Disposition': `attachment; filename="${safe}"`, 'Cache-Control': 'no-store' })
    const copy = async (): Promise<void> => {
      for await (const chunk of body as AsyncIterable<Buffer>) if (!res.write(chunk)) await once(res, 'drain')
    }
    copy().then(() => next(), (err: unknown) => next(err as Error))
  })
  await pipeline(stream, extract)
  if (!sent) throw new HttpError(400, `${path} is not a regular file`)
  res.end()
}

/** Writes one file into a directory of the container: the request body, of the length it declares. */
export async function upload(client: EngineClient, id: string, dir: string, name: string, body: Readable, size: number): Promise<void> {
  if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new HttpError(400, 'name must be a plain file name')
  const pack = tar.pack()
  const entry = pack.entry({ name, size, mode: 0o644, mtime: new Date() }, (err) => {
    if (err) pack.destroy(err)
    else pack.finalize()
  })
  const feeding = pipeline(body, entry)
  await Promise.all([client.containers.putArchive(id, dir, Readable.from(pack)), feeding])
}
