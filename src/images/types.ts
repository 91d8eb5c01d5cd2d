import type { Digest } from '../content/digest.ts'

export interface Descriptor {
  mediaType: string
  digest: Digest
  size: number
  annotations?: Record<string, string>
  platform?: { architecture: string; os: string; variant?: string }
}

/** The runtime part of an image config (OCI `config`, Docker `ContainerConfig` subset). */
export interface ImageRuntimeConfig {
  User?: string
  ExposedPorts?: Record<string, object>
  Env?: string[]
  Entrypoint?: string[] | null
  Cmd?: string[] | null
  Volumes?: Record<string, object>
  WorkingDir?: string
  Labels?: Record<string, string> | null
  StopSignal?: string
  Healthcheck?: unknown
  OnBuild?: string[] | null
  Shell?: string[]
}

export interface HistoryEntry {
  created?: string
  created_by?: string
  author?: string
  comment?: string
  empty_layer?: boolean
}

/** The OCI image config; its digest is the image ID. */
export interface ImageConfig {
  architecture: string
  os: string
  variant?: string
  created?: string
  author?: string
  comment?: string
  config?: ImageRuntimeConfig
  /** The container a commit made it from, and that container's config (Docker's image config keeps both). */
  container?: string
  container_config?: ImageRuntimeConfig
  rootfs: { type: 'layers'; diff_ids: Digest[] }
  history?: HistoryEntry[]
}

export interface Manifest {
  schemaVersion: 2
  mediaType: string
  config: Descriptor
  layers: Descriptor[]
}

/** What caisd keeps per image, beside the config and manifest blobs. */
export interface ImageRecord {
  id: Digest
  manifest: Digest
  /** Layer blobs, bottom first, matching the config's diff_ids. */
  layers: Descriptor[]
  /** Unix ms when the image arrived here. */
  added: number
  lastTagTime?: string
  /** The image this one was made from here (commit, build): `Parent` in inspect, the IDs `history` shows. */
  parent?: Digest
}

export const mediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const
