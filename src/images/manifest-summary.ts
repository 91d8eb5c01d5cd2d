import type { Digest } from '../content/digest.ts'
import type { ImageManifestSummary } from '../wire/types.ts'
import type { ImageService } from './service.ts'

/**
 * An image's `Manifests` as Docker's multi-platform store lists them (image list from API 1.47, inspect from 1.48):
 * here always one, the manifest the image was stored with, available, for the image's platform. `Content` counts the
 * blobs as stored (manifest, config, layers); `Unpacked` the layers' unpacked size.
 */
export async function manifestSummaries(images: ImageService, id: Digest, containers: string[]): Promise<ImageManifestSummary[]> {
  const descriptor = await images.manifestDescriptor(id)
  const { manifest } = await images.manifest(id)
  const content = descriptor.size + manifest.config.size + manifest.layers.reduce((sum, l) => sum + l.size, 0)
  const unpacked = images.size(id)
  const { platform, ...target } = descriptor
  return [
    {
      ID: descriptor.digest,
      Descriptor: target,
      Available: true,
      Size: { Total: content + unpacked, Content: content },
      Kind: 'image',
      ImageData: { Platform: platform!, Containers: containers, Size: { Unpacked: unpacked } },
    },
  ]
}
