import type { ContentStore } from '../content/store.ts'
import type { Digest } from '../content/digest.ts'
import { chainIdOf } from '../snapshots/layers.ts'
import type { EventBus } from '../events/bus.ts'
import { applyChanges } from '../images/changes.ts'
import { formatReference, parseReference, withDefaultTag } from '../images/reference.ts'
import type { ImageService, NewLayer } from '../images/service.ts'
import { type ImageConfig, type ImageRuntimeConfig, mediaTypes } from '../images/types.ts'
import { invalid } from '../lib/errors.ts'
import type { LayerStore } from '../snapshots/layers.ts'
import { packLayer } from '../snapshots/overlay-tar.ts'
import type { ContainerConfig } from '../wire/types.ts'
import type { ContainerService } from './service.ts'

export interface CommitOptions {
  /** `repo[:tag]`; no reference makes an untagged image. */
  reference?: string
  comment?: string
  author?: string
  /** Dockerfile instructions (`--change`). */
  changes?: string[]
  /** Pause a running container while its layer is read (Docker's default). */
  pause?: boolean
  /** Fields that replace the container's own config in the image. */
  config?: Partial<ContainerConfig>
}

export interface CommitDeps {
  containers: ContainerService
  images: ImageService
  content: ContentStore
  layers: LayerStore
  events: EventBus
}

/**
 * `docker commit`: the container's writable layer becomes a new top layer over its image's layers, and the
 * container's config (with `changes` and `config` applied) becomes the image's. Returns the new image ID.
 */
export async function commitContainer(ref: string, opts: CommitOptions, deps: CommitDeps): Promise<Digest> {
  const target = opts.reference ? formatReference(withDefaultTag(parseReference(opts.reference))) : undefined
  if (target !== undefined && parseReference(target).digest !== undefined) throw invalid('invalid reference format: a commit cannot name a digest')
  const { rec, upper } = deps.containers.layersOf(ref)
  const base = deps.images.config(rec.imageId)
  const baseRec = deps.images.resolve(rec.imageId)

  const paused = opts.pause !== false && rec.state.Running && !rec.state.Paused
  if (paused) await deps.containers.pause(rec.id, { forCommit: true })
  const lease = deps.images.lease()
  try {
    const layer = await packContainerLayer(upper, rec.imageId, lease, deps)

    const now = new Date().toISOString()
    const runtime = applyChanges(runtimeOf(rec.config, opts.config), opts.changes ?? [])
    const config: ImageConfig = {
      architecture: base.architecture,
      os: base.os,
      ...(base.variant ? { variant: base.variant } : {}),
      created: now,
      ...(opts.author ? { author: opts.author } : {}),
      ...(opts.comment ? { comment: opts.comment } : {}),
      config: runtime,
      container: rec.id,
      container_config: runtimeOf(rec.config),
      rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, layer.diffId] },
      history: [
        ...(base.history ?? []),
        { created: now, created_by: [rec.path, ...rec.args].join(' '), ...(opts.author ? { author: opts.author } : {}), ...(opts.comment ? { comment: opts.comment } : {}) },
      ],
    }
    const image = await deps.images.create(config, [
      ...baseRec.layers.map((blobDesc, i) => ({ blob: blobDesc, diffId: base.rootfs.diff_ids[i]! })),
      layer,
    ], { parent: rec.imageId })
    if (target !== undefined) await deps.images.tag(image.id, target)
    deps.events.emit('container', 'commit', rec.id, {
      comment: opts.comment ?? '',
      imageID: image.id,
      imageRef: target ?? '',
      name: rec.name.slice(1),
    })
    return image.id
  } finally {
    lease.release()
    if (paused) await deps.containers.unpause(rec.id).catch(() => {})
  }
}

/**
 * A container's writable layer (`upper`, over the image `imageId`) packed as a layer blob and unpacked as the
 * layer over that image's top one; the lease keeps both from gc until the caller's image refers to them.
 */
export async function packContainerLayer(
  upper: string,
  imageId: Digest,
  lease: { add(d: Digest): void },
  deps: Pick<CommitDeps, 'images' | 'content' | 'layers'>,
  opts: { clampMtime?: Date; signal?: AbortSignal } = {},
): Promise<NewLayer> {
  const blob = await deps.content.ingest(packLayer(upper, opts), undefined, { hold: (d) => lease.add(d) })
  const parent = deps.images.topLayer(imageId)
  // Held before it exists: the same layer may be there already, unreferenced, with gc about to remove it.
  lease.add(chainIdOf(parent, blob.digest))
  const layer = await deps.layers.apply(deps.content.open(blob.digest), parent, blob.digest, { verified: true })
  return { blob: { mediaType: mediaTypes.ociLayer, digest: blob.digest, size: blob.size }, diffId: layer.diffId }
}

/** The image-side runtime config of a container: its own config, with the caller's fields over it. */
function runtimeOf(c: ContainerConfig, over: Partial<ContainerConfig> = {}): ImageRuntimeConfig {
  const pick = <K extends keyof ContainerConfig>(k: K): ContainerConfig[K] => {
    const v = over[k]
    const empty = v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)
    return empty ? c[k] : v
  }
  const out: ImageRuntimeConfig = {
    Env: pick('Env') ?? [],
    Cmd: pick('Cmd'),
    Entrypoint: pick('Entrypoint'),
    WorkingDir: pick('WorkingDir') ?? '',
    Labels: { ...c.Labels, ...over.Labels },
    OnBuild: pick('OnBuild'),
  }
  const user = pick('User')
  if (user) out.User = user
  const ports = pick('ExposedPorts')
  if (ports && Object.keys(ports).length > 0) out.ExposedPorts = ports
  const volumes = pick('Volumes')
  if (volumes && Object.keys(volumes).length > 0) out.Volumes = volumes
  const stop = pick('StopSignal')
  if (stop) out.StopSignal = stop
  if (c.Healthcheck) out.Healthcheck = c.Healthcheck
  return out
}
