import type { Digest } from '../content/digest.ts'
import { familiarString, type Reference } from '../images/reference.ts'
import { mediaTypes } from '../images/types.ts'
import type { RegistryClient } from './client.ts'
import { readAll } from './http.ts'
import { fetchTopManifest } from './pull.ts'

/** `GET /distribution/{name}/json`: what the registry says of an image, without pulling it. */
export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: Digest; size: number }
  Platforms: { architecture: string; os: string; variant?: string; 'os.version'?: string; 'os.features'?: string[] }[]
}

/**
 * The manifest a reference names and the platforms it serves: a manifest list's entries, or for a single image
 * the platform of its config (fetched: a manifest does not say it).
 */
export async function inspectDistribution(client: RegistryClient, ref: Reference, signal?: AbortSignal): Promise<DistributionInspect> {
  const top = await fetchTopManifest(client, { ref, ...(signal ? { signal } : {}) })
  const body = JSON.parse(top.bytes.toString('utf8')) as { manifests?: { platform?: DistributionInspect['Platforms'][number] }[]; config?: { digest: Digest } }
  const Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length }
  if (top.mediaType === mediaTypes.dockerManifestList || top.mediaType === mediaTypes.ociIndex) {
    return { Descriptor, Platforms: (body.manifests ?? []).flatMap((m) => (m.platform ? [m.platform] : [])) }
  }
  if (!body.config?.digest) return { Descriptor, Platforms: [] }
  const blob = await client.getBlob(ref.path, body.config.digest, signal)
  const config = JSON.parse((await readAll(blob.body, 8 * 1024 * 1024)).toString('utf8')) as { architecture?: string; os?: string; variant?: string; 'os.version'?: string }
  if (!config.os || !config.architecture) throw new Error(`image config of ${familiarString(ref)} names no platform`)
  const platform: DistributionInspect['Platforms'][number] = { architecture: config.architecture, os: config.os }
  if (config.variant) platform.variant = config.variant
  if (config['os.version']) platform['os.version'] = config['os.version']
  return { Descriptor, Platforms: [platform] }
}
