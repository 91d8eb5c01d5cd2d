import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, posix } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import tar from 'tar-stream'
import type { EngineClient } from '../client/engine-client.ts'
import { type EntryKind, type LayerEntry, cleanPath } from './layer-analysis.ts'

/**
 * An image's layers as lists of tar entries, read from the engine's `GET /images/get` archive in one streaming
 * pass: each layer's tar is read as it goes by (bodies skipped, never held), so a 500 MB image costs its entry
 * list. Works on any engine that saves images (caisd, dockerd); indexes are cached on disk by image ID, which is
 * the digest of the image's config and so of its layers.
 */
export interface ImageLayers {
  id: string
  /** One per history step, empty ones (ENV, CMD…) too; `layer` indexes `layers` for steps that made one. */
  history: Array<{ createdBy: string; created: string; comment: string; empty: boolean; layer?: number }>
  layers: Array<{ digest: string; entries: LayerEntry[] }>
}

interface SaveManifest {
  Config: string
  Layers: string[]
}

interface ImageConfigJson {
  rootfs?: { diff_ids?: string[] }
  history?: Array<{ created_by?: string; created?: string; comment?: string; empty_layer?: boolean }>
}

const smallFileLimit = 8 * 1024 * 1024

export class LayerIndexCache {
  readonly #dir: string

  constructor(dir = join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'cais', 'layer-index')) {
    this.#dir = dir
  }

  async get(client: EngineClient, image: string): Promise<ImageLayers> {
    const { Id } = await client.images.inspect(image)
    const file = join(this.#dir, `${Id.replace(/^sha256:/, '')}.json`)
    const cached = await readFile(file, 'utf8').then(
      (t) => JSON.parse(t) as ImageLayers,
      () => undefined,
    )
    if (cached) return cached
    const index = await indexSavedImage(await client.images.save([Id]), Id)
    await mkdir(this.#dir, { recursive: true })
    const temp = `${file}.${process.pid}.tmp`
    await writeFile(temp, JSON.stringify(index))
    await rename(temp, file)
    return index
  }
}

/** Reads a `docker save` archive (the legacy layout or OCI's) of one image. */
export async function indexSavedImage(archive: Readable, id: string): Promise<ImageLayers> {
  const tars = new Map<string, LayerEntry[]>()
  const small = new Map<string, Buffer>()
  const links = new Map<string, string>()
  const extract = tar.extract()
  extract.on('entry', (header, stream, next) => {
    const name = cleanPath(header.name)
    const done = (err?: unknown): void => next(err as Error | undefined)
    if (header.type === 'symlink' || header.type === 'link') {
      const target = header.type === 'symlink' ? posix.join(posix.dirname(name), header.linkname ?? '') : (header.linkname ?? '')
      links.set(name, cleanPath(target))
      stream.resume()
      stream.once('end', () => done())
      return
    }
    if (header.type !== 'file' || (header.size ?? 0) === 0) {
      stream.resume()
      stream.once('end', () => done())
      return
    }
    readMember(stream as unknown as Readable, header.size ?? 0).then((r) => {
      if (r.entries) tars.set(name, r.entries)
      else if (r.bytes) small.set(name, r.bytes)
      done()
    }, done)
  })
  await pipeline(archive, extract)
  const resolve = (name: string): string => links.get(cleanPath(name)) ?? cleanPath(name)
  const manifestBytes = small.get('manifest.json')
  if (!manifestBytes) throw new Error('the engine saved an archive without manifest.json')
  const manifest = (JSON.parse(manifestBytes.toString('utf8')) as SaveManifest[])[0]
  if (!manifest) throw new Error('the engine saved an archive without an image')
  const configBytes = small.get(resolve(manifest.Config))
  const config = configBytes ? (JSON.parse(configBytes.toString('utf8')) as ImageConfigJson) : {}
  const diffIds = config.rootfs?.diff_ids ?? []
  const layers = manifest.Layers.map((l, i) => {
    const entries = tars.get(resolve(l))
    if (!entries) throw new Error(`the saved archive lacks layer ${l}`)
    return { digest: diffIds[i] ?? '', entries }
  })
  let next = 0
  const history = (config.history ?? []).map((h) => {
    const empty = h.empty_layer === true
    return { createdBy: h.created_by ?? '', created: h.created ?? '', comment: h.comment ?? '', empty, ...(empty ? {} : { layer: next++ }) }
  })
  // An image without history (an import) still shows its layers.
  for (; next < layers.length; next++) history.push({ createdBy: '', created: '', comment: '', empty: false, layer: next })
  return { id, history, layers }
}

/** A member of the archive: a layer (a tar, maybe gzipped) as its entry list, or a small file (JSON) as bytes. */
async function readMember(stream: Readable, size: number): Promise<{ entries?: LayerEntry[]; bytes?: Buffer }> {
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const head = await chunks.next()
  if (head.done) return {}
  const first = head.value
  async function* all(): AsyncGenerator<Buffer> {
    yield first
    for (let r = await chunks.next(); !r.done; r = await chunks.next()) yield r.value
  }
  const looksJson = first[0] === 0x7b /* { */ || first[0] === 0x5b /* [ */
  if (looksJson && size <= smallFileLimit) {
    const parts: Buffer[] = []
    for await (const c of all()) parts.push(c)
    return { bytes: Buffer.concat(parts) }
  }
  const gzipped = first[0] === 0x1f && first[1] === 0x8b
  const entries: LayerEntry[] = []
  const inner = tar.extract()
  inner.on('entry', (h, body, next) => {
    const regular = h.type === 'file' || h.type === 'contiguous-file'
    entries.push({ path: cleanPath(h.name), size: regular ? (h.size ?? 0) : 0, kind: kindOf(h.type), ...(h.linkname ? { link: h.linkname } : {}) })
    body.once('end', () => next())
    body.resume()
  })
  const source = Readable.from(all(), { objectMode: false })
  try {
    await (gzipped ? pipeline(source, createGunzip(), inner) : pipeline(source, inner))
  } catch {
    // Not a tar after all: skip the rest of the member.
    for (let r = await chunks.next(); !r.done; r = await chunks.next());
    return {}
  }
  return { entries }
}

/** A tar header's type as the dashboard names kinds of entries. */
export function kindOf(type: string | null | undefined): EntryKind {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file'
    case 'directory':
      return 'dir'
    case 'symlink':
      return 'symlink'
    case 'link':
      return 'hardlink'
    default:
      return 'other'
  }
}
