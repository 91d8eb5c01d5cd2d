import { createWriteStream } from 'node:fs'
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { dirname, join, posix } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'
import { type Digest, DigestingStream, hexOf } from '../content/digest.ts'
import type { ContentStore } from '../content/store.ts'
import { CaisError, invalid, isStorageError } from '../lib/errors.ts'
import type { LayerStore } from '../snapshots/layers.ts'
import { cleanEntryName, maybeDecompress } from '../lib/tar.ts'
import { type Platform, hostPlatform, platformMatches, requirePlatform } from '../lib/platform.ts'
import { type Reference, familiarString, formatReference, parseReference, withDefaultTag } from './reference.ts'
import type { ImageService, NewLayer } from './service.ts'
import { type Descriptor, type ImageConfig, type Manifest, mediaTypes } from './types.ts'

interface Deps {
  content: ContentStore
  layers: LayerStore
  images: ImageService
}

/** Manifests, indexes and configs are read whole: none comes near this, a bigger one is refused (OCI's limit is 4 MiB). */
const maxDocumentBytes = 8 * 1024 * 1024
/** A docker-archive has a few entries per image; an archive of endless empty entries must not fill the daemon's memory. */
const maxEntries = 100_000

interface StagedFile {
  path: string
  digest: Digest
  size: number
}

interface ArchiveImage {
  config: StagedFile
  layers: StagedFile[]
  refs: Reference[]
}

/**
 * `docker load`: reads a docker-archive (manifest.json) or an OCI layout (index.json) tar. Entries are staged
 * in the ingest area while hashed, then adopted into the content store, unpacked and recorded. On any error
 * the staging area and every partly imported layer are removed.
 * Returns what was loaded, with the line Docker prints for each: `Loaded image: name:tag` or `Loaded image ID: sha256:…`.
 */
/** Loads the images of a `docker save` or OCI archive; with `platform`, only that platform's (from an index). */
export async function loadArchive(body: Readable, deps: Deps, opts: { platform?: Platform } = {}): Promise<Array<{ line: string; id: Digest }>> {
  const stage = deps.content.tempPath()
  await mkdir(stage, { recursive: true })
  const lease = deps.images.lease()
  try {
    // Compressed as `docker save | gzip` makes it, or bzip2 or xz, as Docker's load takes it too.
    const files = await stageTar(maybeDecompress(body), stage)
    const images = await readArchiveIndex(files, opts.platform ?? hostPlatform())
    if (images.length === 0) throw invalid('invalid archive: no image found (missing manifest.json or index.json)')
    // Every image is checked before any is loaded: an archive refused (another platform, a bad config) loads none.
    const checked: Array<{ img: ArchiveImage; config: ImageConfig }> = []
    for (const img of images) {
      const config = await readDocument<ImageConfig>(img.config, 'image config')
      if (config.rootfs?.type !== 'layers' || !Array.isArray(config.rootfs.diff_ids)) throw invalid('invalid image config: rootfs.diff_ids missing')
      if (opts.platform) {
        const name = img.refs[0] ? familiarString(img.refs[0]) : img.config.digest
        requirePlatform(name, { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }, opts.platform)
      }
      if (config.rootfs.diff_ids.length !== img.layers.length) {
        throw invalid(`invalid archive: config lists ${config.rootfs.diff_ids.length} layers, manifest ${img.layers.length}`)
      }
      checked.push({ img, config })
    }
    const lines: Array<{ line: string; id: Digest }> = []
    for (const { img, config } of checked) {
      const newLayers: NewLayer[] = []
      let parent: Digest | null = null
      for (const [i, file] of img.layers.entries()) {
        const diffId = config.rootfs.diff_ids[i]!
        const gz = await isGzip(file.path)
        // Leased before it is looked for: a prune meanwhile must not take a blob this load is about to use.
        lease.add(file.digest)
        if (!(await deps.content.has(file.digest))) await deps.content.adopt(file.path, file.digest)
        const rec = await deps.layers.apply(deps.content.open(file.digest), parent, diffId, { hold: (c) => lease.add(c) })
        parent = rec.chainId
        newLayers.push({
          blob: { mediaType: gz ? mediaTypes.ociLayerGzip : mediaTypes.ociLayer, digest: file.digest, size: file.size },
          diffId,
        })
      }
      const rec = await deps.images.create(config, newLayers)
      for (const ref of img.refs) {
        await deps.images.tag(rec.id, formatReference(ref), { quiet: true })
        lines.push({ line: `Loaded image: ${familiarString(ref)}`, id: rec.id })
      }
      if (img.refs.length === 0) lines.push({ line: `Loaded image ID: ${rec.id}`, id: rec.id })
    }
    return lines
  } catch (err) {
    if (err instanceof CaisError || isStorageError(err)) throw err
    throw invalid(`invalid archive: ${(err as Error).message}`, err)
  } finally {
    lease.release()
    await rm(stage, { recursive: true, force: true })
    await deps.images.gc()
  }
}

async function stageTar(body: Readable, stage: string): Promise<Map<string, StagedFile>> {
  const files = new Map<string, StagedFile>()
  const links = new Map<string, string>()
  const extract = tar.extract()
  let entries = 0
  extract.on('entry', (header, stream, next) => {
    const handle = async (): Promise<void> => {
      if (++entries > maxEntries) throw invalid(`invalid archive: more than ${maxEntries} entries`)
      const name = cleanEntryName(header.name)
      if (header.type === 'symlink' || header.type === 'link') {
        const target = header.type === 'symlink' ? posix.join(posix.dirname(name), header.linkname ?? '') : header.linkname ?? ''
        links.set(name, cleanEntryName(target))
        stream.resume()
        return
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        stream.resume()
        return
      }
      const path = join(stage, name)
      await mkdir(dirname(path), { recursive: true })
      const hasher = new DigestingStream()
      await pipeline(stream, hasher, createWriteStream(path))
      files.set(name, { path, digest: hasher.digest(), size: hasher.size })
    }
    handle().then(() => next(), (err: unknown) => next(err as Error))
  })
  await pipeline(body, extract)
  for (const [name, target] of links) {
    const f = files.get(target)
    if (f) files.set(name, f)
  }
  return files
}

/** The images of an archive: its manifest.json's, or else those its index.json reaches (one per index, for `platform`). */
async function readArchiveIndex(files: Map<string, StagedFile>, platform: Platform): Promise<ArchiveImage[]> {
  const need = (name: string): StagedFile => {
    const f = files.get(cleanEntryName(name))
    if (!f) throw invalid(`invalid archive: ${name} is missing`)
    return f
  }
  const manifestJson = files.get('manifest.json')
  if (manifestJson) {
    const entries = await readDocument<Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>>(manifestJson, 'manifest.json')
    if (!Array.isArray(entries)) throw invalid('invalid archive: manifest.json is not a list')
    return entries.map((e) => ({
      config: need(e.Config),
      layers: (e.Layers ?? []).map(need),
      refs: (e.RepoTags ?? []).map((t) => withDefaultTag(parseReference(t))),
    }))
  }
  const indexJson = files.get('index.json')
  if (!indexJson) return []
  const blob = (d: Descriptor): StagedFile => need(`blobs/${d.digest.replace(':', '/')}`)
  const out: ArchiveImage[] = []
  const walk = async (descs: Descriptor[], refsFromParent: Reference[]): Promise<void> => {
    for (const d of descs) {
      const refs = [...refsFromParent]
      const name = d.annotations?.['io.containerd.image.name']
      if (name) refs.push(withDefaultTag(parseReference(name)))
      const doc = await readDocument<{ manifests?: Descriptor[] } & Partial<Manifest>>(blob(d), d.digest)
      if (d.mediaType === mediaTypes.ociIndex || d.mediaType === mediaTypes.dockerManifestList || doc.manifests) {
        const wanted = (doc.manifests ?? []).filter((m) => !m.platform || platformMatches(m.platform, platform))
        await walk(wanted.slice(0, 1), refs)
      } else if (doc.config && doc.layers) {
        out.push({ config: blob(doc.config), layers: doc.layers.map(blob), refs })
      }
    }
  }
  const index = await readDocument<{ manifests?: Descriptor[] }>(indexJson, 'index.json')
  await walk(index.manifests ?? [], [])
  return out
}

async function readDocument<T>(file: StagedFile, what: string): Promise<T> {
  if (file.size > maxDocumentBytes) throw invalid(`invalid archive: ${what} is ${file.size} bytes, more than the ${maxDocumentBytes} allowed`)
  return JSON.parse(await readFile(file.path, 'utf8')) as T
}

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.alloc(2)
    await fh.read(buf, 0, 2, 0)
    return buf[0] === 0x1f && buf[1] === 0x8b
  } finally {
    await fh.close()
  }
}

/**
 * `docker save`: writes the named images as one tar holding an OCI layout (oci-layout, index.json, blobs/)
 * and Docker's legacy manifest.json and repositories, so both old and new loaders read it.
 */
export async function saveArchive(names: readonly string[], out: Writable, deps: Deps): Promise<void> {
  const pack = tar.pack()
  const done = pipeline(pack, out)
  // Awaited at the end; a client that goes away meanwhile rejects it before then, which must not crash the daemon.
  done.catch(() => {})
  const written = new Set<string>()
  const index: Descriptor[] = []
  const legacy: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = []
  const repositories: Record<string, Record<string, string>> = {}
  const addFile = (name: string, data: string | Buffer): Promise<void> =>
    new Promise((resolve, reject) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve())))
  const addBlob = async (digest: Digest): Promise<string> => {
    const name = `blobs/sha256/${hexOf(digest)}`
    if (written.has(name)) return name
    written.add(name)
    const size = await deps.content.size(digest)
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name, size, mode: 0o644, mtime: new Date(0) }, (err) => (err ? reject(err) : resolve()))
      pipeline(deps.content.open(digest), entry).catch(reject)
    })
    return name
  }

  try {
    for (const input of names) {
      const rec = deps.images.resolve(input)
      let refs: Reference[] = []
      try {
        const ref = parseReference(input)
        if (!/^[a-f0-9]{12,64}$/.test(input)) refs = ref.tag || ref.digest ? [ref] : deps.images.references(rec.id).filter((r) => r.domain === ref.domain && r.path === ref.path && r.tag)
      } catch {
        refs = []
      }
      const manifestSize = await deps.content.size(rec.manifest)
      const layerNames: string[] = []
      for (const l of rec.layers) layerNames.push(await addBlob(l.digest))
      const configName = await addBlob(rec.id)
      await addBlob(rec.manifest)
      const tags = refs.filter((r) => r.tag !== undefined)
      for (const r of tags.length > 0 ? tags : [undefined]) {
        const desc: Descriptor = { mediaType: mediaTypes.ociManifest, digest: rec.manifest, size: manifestSize }
        if (r) desc.annotations = { 'io.containerd.image.name': formatReference(r), 'org.opencontainers.image.ref.name': r.tag! }
        index.push(desc)
      }
      legacy.push({ Config: configName, RepoTags: tags.map(familiarString), Layers: layerNames })
      for (const r of tags) {
        const repo = familiarString({ domain: r.domain, path: r.path })
        repositories[repo] = { ...repositories[repo], [r.tag!]: hexOf(rec.id) }
      }
    }
    await addFile('index.json', JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests: index }))
    await addFile('manifest.json', JSON.stringify(legacy))
    await addFile('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }))
    if (Object.keys(repositories).length > 0) await addFile('repositories', JSON.stringify(repositories))
    pack.finalize()
  } catch (err) {
    pack.destroy(err as Error)
    throw err
  }
  await done
}
