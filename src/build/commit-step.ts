import type { Digest } from '../content/digest.ts'
import type { NewLayer } from '../images/service.ts'
import type { HistoryEntry, ImageConfig } from '../images/types.ts'
import { cacheKey } from './cache.ts'
import type { BuilderDeps, Lease, StageState, StepEnv } from './state.ts'

export interface StepChange {
  /** The config after the step; a RUN, COPY or ADD leaves the stage's as it is. */
  config?: ImageConfig
  /** Makes the step's layer (runs the RUN, copies the files); absent for a metadata step. */
  layer?: (lease: Lease) => Promise<NewLayer>
}

/**
 * One step. Answered from the cache when an entry for (parent image, step text, extra key) names an image still
 * here, or when a `--cache-from` image's history continues the stage's with this very step; otherwise the layer
 * is made, and the result becomes an image (the parent's layers plus the step's) and a cache entry.
 */
export async function commitStep(state: StageState, env: StepEnv, createdBy: string, extraKey: string, change: StepChange): Promise<void> {
  const { deps } = env
  const parent = state.imageId ?? `scratch:${JSON.stringify(state.config)}`
  const key = cacheKey(parent, createdBy, extraKey)
  const nextConfig = change.config ?? state.config
  if (!state.noCache) {
    const hit = deps.cache.get(key)
    if (hit && deps.images.has(hit.image)) {
      state.send({ stream: ' ---> Using cache\n' })
      await deps.cache.touch(hit)
      adopt(state, hit.image, deps)
      return
    }
    const borrowed = fromCacheImages(state, env, createdBy, change.layer !== undefined)
    if (borrowed) {
      state.send({ stream: ' ---> Using cache\n' })
      await record(state, env, key, createdBy, nextConfig, borrowed.layer, borrowed.history)
      return
    }
  }
  const lease = deps.images.lease()
  try {
    const layer = change.layer ? await change.layer(lease) : undefined
    // A whole-second SOURCE_DATE_EPOCH is written as BuildKit writes it, without fractional seconds.
    const created = (env.epoch ?? new Date()).toISOString().replace('.000Z', 'Z')
    await record(state, env, key, createdBy, nextConfig, layer, { created, created_by: createdBy, ...(layer ? {} : { empty_layer: true }) })
  } finally {
    lease.release()
  }
}

/** Makes the step's image and its cache entry, and moves the stage onto it. */
async function record(state: StageState, env: StepEnv, key: string, createdBy: string, next: ImageConfig, layer: NewLayer | undefined, entry: HistoryEntry): Promise<void> {
  const { deps } = env
  const layers = layer ? [...state.layers, layer] : state.layers
  const config: ImageConfig = {
    ...next,
    created: entry.created ?? new Date().toISOString(),
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: [...(state.config.history ?? []), entry],
  }
  // Docker's classic builder names the step's container here; without it the same inputs give the same image ID.
  delete config.container
  delete config.container_config
  const image = await deps.images.create(config, layers, state.imageId ? { parent: state.imageId } : {})
  const top = layer ? deps.images.topLayer(image.id) : null
  await deps.cache.put({
    key, image: image.id, description: createdBy, created: Date.now(), lastUsed: Date.now(), size: top ? (deps.layers.get(top)?.size ?? 0) : 0,
  })
  state.imageId = image.id
  state.config = config
  state.layers = layers
}

/**
 * `--cache-from`: an image (pulled or loaded, so without its intermediate images) whose history starts as the
 * stage's does and goes on with this step lends the step's layer and history entry.
 */
function fromCacheImages(state: StageState, env: StepEnv, createdBy: string, wantsLayer: boolean): { layer: NewLayer | undefined; history: HistoryEntry } | undefined {
  const { deps, req } = env
  const ours = state.config.history ?? []
  for (const ref of req.cacheFrom) {
    let id: Digest
    try {
      id = deps.images.resolve(ref).id
    } catch {
      continue
    }
    const theirs = deps.images.config(id)
    const history = theirs.history ?? []
    const entry = history[ours.length]
    if (!entry || entry.created_by !== createdBy || (entry.empty_layer !== true) !== wantsLayer) continue
    if (!ours.every((h, i) => h.created_by === history[i]!.created_by && (h.empty_layer === true) === (history[i]!.empty_layer === true))) continue
    const layersBefore = history.slice(0, ours.length).filter((h) => h.empty_layer !== true).length
    const diffIds = theirs.rootfs.diff_ids
    if (layersBefore !== state.layers.length || !state.layers.every((l, i) => l.diffId === diffIds[i])) continue
    if (!wantsLayer) return { layer: undefined, history: entry }
    const blob = deps.images.resolve(id).layers[layersBefore]
    const diffId = diffIds[layersBefore]
    if (!blob || !diffId) continue
    return { layer: { blob, diffId }, history: entry }
  }
  return undefined
}

function adopt(state: StageState, imageId: Digest, deps: BuilderDeps): void {
  const config = structuredClone(deps.images.config(imageId))
  const rec = deps.images.resolve(imageId)
  state.imageId = imageId
  state.config = config
  state.layers = rec.layers.map((blob, i) => ({ blob, diffId: config.rootfs.diff_ids[i]! }))
}
