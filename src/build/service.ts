import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { ContentStore } from '../content/store.ts'
import type { Digest } from '../content/digest.ts'
import type { ContainerService } from '../containers/service.ts'
import type { ImageService } from '../images/service.ts'
import { conflict, invalid, notFound } from '../lib/errors.ts'
import type { Filters } from '../lib/filters.ts'
import { newId } from '../lib/ids.ts'
import { parseTimestamp } from '../lib/time.ts'
import type { LayerStore } from '../snapshots/layers.ts'
import { build } from './builder.ts'
import type { BuilderDeps } from './state.ts'
import { BuildCache } from './cache.ts'
import { ContextStore } from './context.ts'
import { fetchRemoteContext } from './remote.ts'
import type { BuildRequest, BuildResult } from './request.ts'
import { BUILD_LABEL } from './state.ts'

export interface BuildServiceDeps {
  containers: ContainerService
  images: ImageService
  content: ContentStore
  layers: LayerStore
  /** `<root>/build`. */
  dir: string
  pull: BuilderDeps['pull']
}

/** What `POST /build` gives the service: the request but for the context, which is still a stream. */
export interface BuildParams extends Omit<BuildRequest, 'id' | 'context' | 'secrets' | 'signal'> {
  body: Readable
  dockerfile: string
  /** Secret id → content (`cais build --secret`); written to files only this build can read. */
  secrets: Map<string, Buffer>
  signal: AbortSignal
  /** Called once the context is on disk, before the first step (output may start then). */
  onContextReceived?: () => void
  /** A context the daemon fetches instead of the body: a git repository, a tar or a Dockerfile over HTTP. */
  remote?: string | undefined
  /** The client's name for the build, for `/build/cancel`. */
  buildId?: string | undefined
}

/** One entry of `system df`'s Build Cache, Docker's shape. */
export interface BuildCacheUsage {
  ID: string
  Parent: string
  Parents: string[]
  Type: 'regular' | 'exec.cachemount' | 'source.local'
  Description: string
  InUse: boolean
  Shared: boolean
  Size: number
  CreatedAt: string
  LastUsedAt: string
  UsageCount: number
}

/** Builds images from Dockerfiles; owns the build cache and cancels builds on request. */
export class BuildService {
  readonly #d: BuildServiceDeps
  readonly #cache: BuildCache
  readonly #contexts: ContextStore
  readonly #running = new Map<string, AbortController>()

  constructor(deps: BuildServiceDeps) {
    this.#d = deps
    this.#cache = new BuildCache(deps.dir)
    this.#contexts = new ContextStore(join(deps.dir, 'contexts'))
  }

  get #scratch(): string {
    return join(this.#d.dir, 'tmp')
  }

  /** Loads the cache; clears what a build killed with the daemon left: its scratch files and its containers. */
  async init(): Promise<void> {
    await rm(this.#scratch, { recursive: true, force: true })
    await mkdir(this.#scratch, { recursive: true, mode: 0o700 })
    await this.#cache.init()
    await this.#contexts.init()
    for (const c of this.#d.containers.list({ all: true, filters: new Map([['label', [BUILD_LABEL]]]) })) {
      await this.#d.containers.remove(c.Id, { force: true }).catch(() => {})
    }
  }

  async build(params: BuildParams): Promise<BuildResult> {
    const id = newId()
    // The client's name for the build only finds it for a cancel; paths use our own ID.
    const name = params.buildId ?? id
    if (this.#running.has(name)) throw conflict(`a build with ID ${name} is already running`)
    const dir = join(this.#scratch, id)
    const controller = new AbortController()
    const onAbort = (): void => controller.abort(params.signal.reason)
    params.signal.addEventListener('abort', onAbort, { once: true })
    this.#running.set(name, controller)
    let releaseContext = (): void => {}
    let cleanupRemote = async (): Promise<void> => {}
    try {
      await mkdir(join(dir, 'secrets'), { recursive: true, mode: 0o700 })
      let body = params.body
      if (params.remote) {
        params.body.resume()
        const remote = await fetchRemoteContext(params.remote, dir, controller.signal)
        cleanupRemote = () => remote.cleanup()
        body = remote.body
      }
      const received = await this.#contexts.receive(body, params.dockerfile)
      releaseContext = received.release
      const context = received.context
      const secrets = new Map<string, string>()
      for (const [sid, content] of params.secrets) {
        const file = join(dir, 'secrets', newId())
        await writeFile(file, content, { mode: 0o600 })
        await chmod(file, 0o600)
        secrets.set(sid, file)
      }
      params.onContextReceived?.()
      const { body: _body, dockerfile: _df, onContextReceived: _cb, remote: _remote, buildId: _id, ...rest } = params
      return await build({ ...rest, id, context, secrets, signal: controller.signal }, { ...this.#d, cache: this.#cache, scratchDir: dir })
    } finally {
      params.signal.removeEventListener('abort', onAbort)
      this.#running.delete(name)
      releaseContext()
      await cleanupRemote().catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }
  }

  /** `POST /build/cancel`: stops a running build (its RUN container is killed). */
  cancel(id: string): void {
    const c = this.#running.get(id)
    if (!c) throw notFound(`no such build: ${id}`)
    c.abort(new Error('build cancelled'))
  }

  /** Build cache entries and cache mounts, as `system df` lists them. */
  async usage(): Promise<BuildCacheUsage[]> {
    const out: BuildCacheUsage[] = []
    for (const r of this.#cache.all()) {
      out.push({
        ID: r.key.slice(0, 25), Parent: '', Parents: [], Type: 'regular', Description: r.description, InUse: this.#running.size > 0,
        Shared: false, Size: r.size, CreatedAt: new Date(r.created).toISOString(), LastUsedAt: new Date(r.lastUsed).toISOString(), UsageCount: 1,
      })
    }
    for (const c of await this.#contexts.usage()) {
      out.push({
        ID: c.key.slice(0, 25), Parent: '', Parents: [], Type: 'source.local', Description: 'local source for context', InUse: c.inUse,
        Shared: false, Size: c.size, CreatedAt: new Date(c.lastUsed).toISOString(), LastUsedAt: new Date(c.lastUsed).toISOString(), UsageCount: 1,
      })
    }
    for (const m of await this.#cache.mounts()) {
      out.push({
        ID: m.id.slice(0, 25), Parent: '', Parents: [], Type: 'exec.cachemount', Description: 'cached mount', InUse: false,
        Shared: false, Size: m.size, CreatedAt: new Date(m.lastUsed).toISOString(), LastUsedAt: new Date(m.lastUsed).toISOString(), UsageCount: 1,
      })
    }
    return out
  }

  /**
   * `builder prune` (and `system prune`): drops the cache entries, cache mounts and kept contexts no running
   * build uses — those last used before `until` when it is given — oldest first, until at most `keepStorage`
   * bytes remain; then the intermediate images that only the cache held.
   */
  async prune(opts: { all: boolean; filters: Filters; keepStorage: number }): Promise<{ CachesDeleted: string[]; SpaceReclaimed: number }> {
    const until = opts.filters.get('until')?.map((u) => parseTimestamp(u))
    if (until?.some((u) => u === undefined)) throw invalid(`invalid filter 'until'`)
    type Candidate = { kind: 'step' | 'mount' | 'context'; key: string; size: number; lastUsed: number; image?: Digest }
    const busy = this.#running.size > 0
    const candidates: Candidate[] = [
      // A running build may be reading its steps' images: leave the step entries to a later prune.
      ...(busy ? [] : this.#cache.all().map((r): Candidate => ({ kind: 'step', key: r.key, size: r.size, lastUsed: r.lastUsed, image: r.image }))),
      ...(busy ? [] : (await this.#cache.mounts()).map((m): Candidate => ({ kind: 'mount', key: m.id, size: m.size, lastUsed: m.lastUsed }))),
      ...(await this.#contexts.usage()).filter((c) => !c.inUse).map((c): Candidate => ({ kind: 'context', key: c.key, size: c.size, lastUsed: c.lastUsed })),
    ]
      .filter((r) => !until || until.every((u) => r.lastUsed < u!))
      .sort((a, b) => a.lastUsed - b.lastUsed)
    let kept = candidates.reduce((n, r) => n + r.size, 0)
    const deleted: string[] = []
    let reclaimed = 0
    const images: Digest[] = []
    for (const r of candidates) {
      if (opts.keepStorage > 0 && kept <= opts.keepStorage) break
      kept -= r.size
      if (r.kind === 'mount') await this.#cache.removeMount(r.key)
      else if (r.kind === 'context') await this.#contexts.prune([r.key])
      else await this.#cache.remove(r.key)
      if (r.image) images.push(r.image)
      deleted.push(r.key.slice(0, 25))
      reclaimed += r.size
    }
    // Newest first: an intermediate image goes before the one it was made on.
    for (const id of images.reverse()) {
      if (!this.#d.images.has(id) || this.#d.images.repoTags(id).length > 0) continue
      await this.#d.images.remove(id).catch(() => {})
    }
    return { CachesDeleted: deleted, SpaceReclaimed: reclaimed }
  }
}
