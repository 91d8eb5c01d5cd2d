import type { Readable } from 'node:stream'
import type { ContentStore } from '../content/store.ts'
import { invalid, isStorageError } from '../lib/errors.ts'
import type { LayerStore } from '../snapshots/layers.ts'
import type { ImageService } from './service.ts'
import { type ImageConfig, type ImageRecord, type ImageRuntimeConfig, mediaTypes } from './types.ts'
import { applyChanges } from './changes.ts'

export interface ImportOptions {
  /** Dockerfile instructions applied to the config, as `docker import --change`. */
  changes?: string[]
  message?: string
  source?: string
  platform?: { os: string; architecture: string }
}

/**
 * `docker import`: one tar (plain or gzip) becomes a one-layer image. The blob is stored and unpacked
 * before the image record is written, so a corrupt tar leaves nothing behind.
 */
export async function importImage(
  body: Readable,
  deps: { content: ContentStore; layers: LayerStore; images: ImageService },
  opts: ImportOptions = {},
): Promise<ImageRecord> {
  let runtime: ImageRuntimeConfig = {}
  if (opts.changes?.length) runtime = applyChanges(runtime, opts.changes)
  // The blob and the layer are held against gc from the moment they appear until the image refers to them.
  const lease = deps.images.lease()
  try {
    const blob = await deps.content.ingest(body, undefined, { hold: (d) => lease.add(d) }).catch((err: unknown) => {
      if (isStorageError(err)) throw err
      throw invalid(`error reading import source: ${(err as Error).message}`, err)
    })
    let layer
    try {
      layer = await deps.layers.apply(deps.content.open(blob.digest), null, undefined, { hold: (c) => lease.add(c) })
    } catch (err) {
      await deps.content.delete(blob.digest)
      throw invalid(`invalid tar archive: ${(err as Error).message}`, err)
    }
    const compressed = (await deps.content.read(blob.digest).then((b) => b.subarray(0, 2))).equals(Buffer.from([0x1f, 0x8b]))
    const now = new Date().toISOString()
    const config: ImageConfig = {
      architecture: opts.platform?.architecture ?? hostArchitecture(),
      os: opts.platform?.os ?? 'linux',
      created: now,
      config: runtime,
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created: now, comment: opts.message || `Imported from ${opts.source ?? '-'}` }],
    }
    if (opts.message) config.comment = opts.message
    return await deps.images.create(config, [
      { blob: { mediaType: compressed ? mediaTypes.ociLayerGzip : mediaTypes.ociLayer, digest: blob.digest, size: blob.size }, diffId: layer.diffId },
    ])
  } finally {
    lease.release()
  }
}

export function hostArchitecture(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }
  return map[process.arch] ?? process.arch
}
