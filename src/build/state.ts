import type { ContentStore } from '../content/store.ts'
import type { Digest } from '../content/digest.ts'
import type { ContainerService } from '../containers/service.ts'
import type { ImageService, NewLayer } from '../images/service.ts'
import type { ImageConfig } from '../images/types.ts'
import type { LayerStore } from '../snapshots/layers.ts'
import type { BuildCache } from './cache.ts'
import type { BuildRequest } from './request.ts'
import type { Stage } from './stages.ts'

export interface BuilderDeps {
  containers: ContainerService
  images: ImageService
  content: ContentStore
  layers: LayerStore
  cache: BuildCache
  /** Fetches a base image, its progress sent as pull messages. */
  pull(ref: string, platform: string | undefined, send: (m: Record<string, unknown>) => void, signal: AbortSignal): Promise<void>
  /** Scratch space for this daemon's builds (downloads, heredoc files, secrets). */
  scratchDir: string
}

/** A stage as it builds: the image so far (materialized after each step) and the stage's declared ARGs. */
export interface StageState {
  stage: Stage
  imageId: Digest | undefined
  config: ImageConfig
  layers: NewLayer[]
  args: Map<string, string | undefined>
  cmdSet: boolean
  noCache: boolean
  /** Where this stage's output goes (in stage order, see StageOutput). */
  send: (m: Record<string, unknown>) => void
}

/** What every step of one build shares. */
export interface StepEnv {
  req: BuildRequest
  deps: BuilderDeps
  escape: string
  /** `SOURCE_DATE_EPOCH`: the time of every history entry and the latest time in any layer. */
  epoch: Date | undefined
  signal: AbortSignal
  /** The result of the stage a name or index refers to (earlier than `before`), or undefined for an image. */
  stageResult(ref: string, before: number): Promise<StageState | undefined>
}

/** Keeps blobs and layers from gc until the image that refers to them is recorded. */
export type Lease = { add(d: Digest): void }

/** The label on every container a build makes, valued with the build's ID: leftovers are found by it. */
export const BUILD_LABEL = 'io.cais.build'

export const DEFAULT_SHELL = ['/bin/sh', '-c']

/** A stage's image, made now if the stage has none yet (a `FROM scratch` with only metadata, or none). */
export async function ensureImage(state: StageState, env: StepEnv): Promise<Digest> {
  if (state.imageId) return state.imageId
  const rec = await env.deps.images.create(state.config, state.layers)
  state.imageId = rec.id
  return rec.id
}
