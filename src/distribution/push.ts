import { open } from 'node:fs/promises'
import { Transform } from 'node:stream'
import type { ContentStore } from '../content/store.ts'
import type { Digest } from '../content/digest.ts'
import { CaisError, notFound } from '../lib/errors.ts'
import { type Reference, familiarRepository, formatReference, repositoryOf } from '../images/reference.ts'
import type { ImageService } from '../images/service.ts'
import { type Descriptor, mediaTypes } from '../images/types.ts'
import type { Credentials } from './auth.ts'
import type { BlobSources } from './blob-sources.ts'
import { type RegistryClient, pushScope } from './client.ts'
import { type ProgressSink, byteProgress, shortDigest } from './progress.ts'
import type { Registries } from './registries.ts'

export interface PushDeps {
  registries: Registries
  content: ContentStore
  images: ImageService
  blobSources: BlobSources
  /** Layers uploaded at once (Docker's --max-concurrent-uploads, 5). */
  concurrency: number
  /** Blobs larger than this go up in PATCH chunks of this size; smaller ones in one PUT. */
  chunkSize: number
  /** Blob bytes uploaded, for the metrics. */
  transferred?: (direction: 'push', bytes: number) => void
}

export interface PushRequest {
  /** A normalised reference; without a tag, every tag of the repository is pushed. */
  ref: Reference
  credentials?: Credentials
  progress: ProgressSink
  signal?: AbortSignal
}

/**
 * Pushes local tags to a registry: each blob is checked with HEAD first and skipped when the registry has it,
 * mounted from a sibling repository when one is known to hold it, else uploaded; the manifest goes last.
 */
export async function pushImage(req: PushRequest, deps: PushDeps): Promise<void> {
  const { ref, progress } = req
  const tags = ref.tag !== undefined ? [{ ref, id: resolveTag(ref, deps) }] : deps.images.tagsOf(repositoryOf(ref))
  if (tags.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarRepository(ref)}`)
  const client = await deps.registries.client(ref.domain, req.credentials)
  progress({ status: `The push refers to repository [${repositoryOf(ref)}]` })
  for (const { ref: tagRef, id } of tags) {
    const { bytes, manifest } = await deps.images.manifest(id)
    const diffIds = deps.images.config(id).rootfs.diff_ids
    const labels = manifest.layers.map((l, i) => shortDigest(diffIds[i] ?? l.digest))
    for (const label of labels) progress({ status: 'Preparing', progressDetail: {}, id: label })
    for (const label of labels.slice(deps.concurrency)) progress({ status: 'Waiting', progressDetail: {}, id: label })
    await inBatches(manifest.layers.map((l, i) => ({ layer: l, label: labels[i]! })), deps.concurrency, ({ layer, label }) =>
      pushBlob(client, tagRef, layer, deps, (status) => progress({ status, progressDetail: {}, id: label }), byteProgress(progress, label, 'Pushing', layer.size)),
    )
    await pushBlob(client, tagRef, manifest.config, deps, () => {}, () => {})
    const mediaType = manifest.mediaType ?? mediaTypes.ociManifest
    let digest: Digest
    try {
      digest = await client.putManifest(ref.path, tagRef.tag!, bytes, mediaType)
    } catch (err) {
      throw new CaisError(err instanceof CaisError ? err.kind : 'invalid', `failed to push manifest: ${(err as Error).message}`, { cause: err })
    }
    await deps.images.setDigestReference(id, tagRef, digest)
    await deps.blobSources.add([manifest.config.digest, ...manifest.layers.map((l) => l.digest)], ref.domain, ref.path)
    progress({ status: `${tagRef.tag}: digest: ${digest} size: ${bytes.length}` })
    progress({ progressDetail: {}, aux: { Tag: tagRef.tag, Digest: digest, Size: bytes.length } })
  }
}

function resolveTag(ref: Reference, deps: PushDeps): Digest {
  try {
    return deps.images.resolve(formatReference(ref)).id
  } catch {
    throw notFound(`An image does not exist locally with the tag: ${familiarRepository(ref)}`)
  }
}

async function pushBlob(
  client: RegistryClient,
  ref: Reference,
  blob: Descriptor,
  deps: PushDeps,
  status: (s: string) => void,
  report: (bytes: number, done?: boolean) => void,
): Promise<void> {
  const repo = ref.path
  if ((await client.statBlob(repo, blob.digest, [pushScope(repo)])) !== undefined) {
    status('Layer already exists')
    return
  }
  let location: URL | null | undefined
  for (const from of deps.blobSources.repositories(blob.digest, ref.domain).filter((r) => r !== repo)) {
    location = await client.startUpload(repo, { digest: blob.digest, from }).catch(() => undefined)
    if (location === null) {
      status(`Mounted from ${from}`)
      return
    }
    if (location) break
  }
  let uploadAt = location ?? (await client.startUpload(repo))
  if (!uploadAt) throw new Error(`registry answered an upload of ${blob.digest} as already complete`)
  const size = await deps.content.size(blob.digest)
  if (size <= deps.chunkSize) {
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        report(chunk.length)
        cb(null, chunk)
      },
    })
    const source = deps.content.open(blob.digest)
    source.on('error', (err) => counter.destroy(err))
    await client.finishUpload(repo, uploadAt, blob.digest, source.pipe(counter), size)
  } else {
    const file = await open(deps.content.path(blob.digest))
    try {
      for (let offset = 0; offset < size; ) {
        const chunk = Buffer.alloc(Math.min(deps.chunkSize, size - offset))
        const { bytesRead } = await file.read(chunk, 0, chunk.length, offset)
        uploadAt = await client.uploadChunk(repo, uploadAt, chunk.subarray(0, bytesRead), offset)
        offset += bytesRead
        report(bytesRead)
      }
    } finally {
      await file.close()
    }
    await client.finishUpload(repo, uploadAt, blob.digest, Buffer.alloc(0), 0)
  }
  report(0, true)
  deps.transferred?.('push', size)
  status('Pushed')
}

async function inBatches<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failed: unknown
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      const item = items[next++]!
      await fn(item).catch((err: unknown) => {
        failed ??= err
      })
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker))
  if (failed !== undefined) throw failed as Error
}
