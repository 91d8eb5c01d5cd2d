import { Transform } from 'node:stream'
import type { ContentStore } from '../content/store.ts'
import type { Digest } from '../content/digest.ts'
import { CaisError, invalid, messageOf, notFound } from '../lib/errors.ts'
import { type Reference, familiarRepository, familiarString, formatReference } from '../images/reference.ts'
import type { ImageService } from '../images/service.ts'
import { type Descriptor, type ImageConfig, type Manifest, mediaTypes } from '../images/types.ts'
import type { LayerStore } from '../snapshots/layers.ts'
import { chainIdOf } from '../snapshots/layers.ts'
import type { Credentials } from './auth.ts'
import type { BlobSources } from './blob-sources.ts'
import type { FetchedManifest, RegistryClient } from './client.ts'
import { type Platform, formatPlatform, hostPlatform, platformMatches } from '../lib/platform.ts'
import { type ProgressSink, byteProgress, shortDigest } from './progress.ts'
import type { Registries } from './registries.ts'

export interface PullDeps {
  registries: Registries
  content: ContentStore
  layers: LayerStore
  images: ImageService
  blobSources: BlobSources
  /** Layers downloaded at once (Docker's --max-concurrent-downloads, 3). */
  concurrency: number
  /** Blob bytes downloaded, for the metrics. */
  transferred?: (direction: 'pull', bytes: number) => void
  /** A mirror passed over, and why: for the daemon's log. */
  onMirrorFailure?: (mirror: string, err: unknown) => void
}

export interface PullRequest {
  /** A normalised reference with a tag or a digest. */
  ref: Reference
  platform?: Platform
  credentials?: Credentials
  progress: ProgressSink
  signal?: AbortSignal
}

export interface PullResult {
  id: Digest
  /** The digest of what the reference names on the registry (the index, for a multi-platform image). */
  digest: Digest
  /** The reference now points at an image it did not point at before: Docker's "Downloaded newer image". */
  updated: boolean
}

const layerMediaTypes = new Set<string>([mediaTypes.dockerLayerGzip, mediaTypes.dockerLayer, mediaTypes.ociLayerGzip, mediaTypes.ociLayer])
const foreignLayerTypes = new Set(['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip'])

/**
 * Pulls one image: the manifest (through an index when there is one, picking the platform), the config, and
 * every layer not already here — downloaded `concurrency` at a time, each verified against its digest before it
 * is kept, and unpacked in order. The image record and its references are written last, so an interrupted pull
 * leaves no image; blobs and layers it completed stay for a retry to reuse.
 */
export async function pullImage(req: PullRequest, deps: PullDeps): Promise<PullResult> {
  const { ref, progress } = req
  const repo = ref.path
  const { client, top } = await firstSource(req, deps)
  const platform = req.platform ?? hostPlatform()
  const { manifest, digest: manifestDigest } = await resolvePlatform(client, repo, top, platform, req.signal)

  progress({ status: `Pulling from ${repo}`, id: ref.tag ?? ref.digest ?? 'latest' })
  const lease = deps.images.lease()
  try {
    lease.add(top.digest)
    lease.add(manifestDigest)
    await deps.content.put(top.bytes)
    if (manifestDigest !== top.digest) await deps.content.put((await client.getManifest(repo, manifestDigest, req.signal)).bytes)

    const configDigest = manifest.config.digest
    lease.add(configDigest)
    if (!(await deps.content.has(configDigest))) {
      const blob = await client.getBlob(repo, configDigest, req.signal)
      await deps.content.ingest(blob.body, configDigest).catch((err: unknown) => {
        throw invalid(`failed to pull config ${configDigest}: ${messageOf(err)}`, err)
      })
      deps.transferred?.('pull', await deps.content.size(configDigest))
    }
    const config = JSON.parse((await deps.content.read(configDigest)).toString('utf8')) as ImageConfig
    const diffIds = config.rootfs?.diff_ids ?? []
    if (diffIds.length !== manifest.layers.length) {
      throw invalid(`invalid image ${familiarString(ref)}: config lists ${diffIds.length} layers, manifest ${manifest.layers.length}`)
    }

    let parent: Digest | null = null
    const chains: Digest[] = diffIds.map((d) => (parent = chainIdOf(parent, d)))
    const downloads = new LayerDownloads(client, repo, deps, progress, req.signal)
    for (const [i, layer] of manifest.layers.entries()) {
      lease.add(layer.digest)
      lease.add(chains[i]!)
      if (deps.layers.get(chains[i]!)) progress({ status: 'Already exists', progressDetail: {}, id: shortDigest(layer.digest) })
      else downloads.want(layer)
    }
    downloads.start()
    try {
      // Each layer unpacks into a directory of its own, so it can as soon as it is here, beside the others and
      // the downloads still running; only its chain ID names its parent.
      const extractions = manifest.layers.map(async (layer, i) => {
        if (deps.layers.get(chains[i]!)) return
        await downloads.done(layer.digest)
        await extract(layer, i > 0 ? chains[i - 1]! : null, diffIds[i]!, deps, progress).catch((err: unknown) => {
          downloads.stop(err)
          throw err
        })
      })
      const results = await Promise.allSettled(extractions)
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw downloads.failure ?? failed.reason
    } finally {
      await downloads.settle()
    }

    const rec = await deps.images.register(config, configDigest, manifestDigest, manifest.layers)
    const pinned = ref.digest === undefined ? ref : { domain: ref.domain, path: ref.path, digest: top.digest }
    const updated = deps.images.target(pinned) !== rec.id
    if (ref.tag !== undefined && ref.digest === undefined) await deps.images.tag(rec.id, formatReference(ref), { quiet: true })
    await deps.images.setDigestReference(rec.id, ref, top.digest)
    await deps.blobSources.add([configDigest, ...manifest.layers.map((l) => l.digest)], ref.domain, repo)
    progress({ status: `Digest: ${top.digest}` })
    return { id: rec.id, digest: top.digest, updated }
  } finally {
    lease.release()
  }
}

/**
 * The manifest from the first source that has it: each mirror in order, then the registry. A mirror that cannot
 * be reached, refuses or lacks the image is passed over; once one answers, the pull stays with it, as Docker's does.
 */
async function firstSource(req: PullRequest, deps: PullDeps): Promise<{ client: RegistryClient; top: FetchedManifest }> {
  const clients = await deps.registries.pullClients(req.ref.domain, req.credentials)
  for (const [i, client] of clients.entries()) {
    if (i === clients.length - 1) return { client, top: await fetchTopManifest(client, req) }
    try {
      return { client, top: await fetchTopManifest(client, req) }
    } catch (err) {
      if (req.signal?.aborted) throw err
      deps.onMirrorFailure?.(client.host.address, err)
    }
  }
  throw new Error('no registry to pull from')
}

export async function fetchTopManifest(client: RegistryClient, req: Pick<PullRequest, 'ref' | 'signal'>): Promise<FetchedManifest> {
  const { ref } = req
  try {
    return await client.getManifest(ref.path, ref.digest ?? ref.tag ?? 'latest', req.signal)
  } catch (err) {
    if (err instanceof CaisError && err.kind === 'not-found') {
      throw notFound(`manifest for ${familiarString(ref)} not found: manifest unknown: manifest unknown`, err)
    }
    if (err instanceof CaisError && (err.kind === 'unauthorized' || err.kind === 'forbidden')) {
      throw new CaisError(
        err.kind,
        `pull access denied for ${familiarRepository(ref)}, repository does not exist or may require 'docker login': ${err.message}`,
        { cause: err },
      )
    }
    throw err
  }
}

async function resolvePlatform(
  client: RegistryClient,
  repo: string,
  top: FetchedManifest,
  platform: Platform,
  signal?: AbortSignal,
): Promise<{ manifest: Manifest; digest: Digest }> {
  let fetched = top
  if (top.mediaType === mediaTypes.dockerManifestList || top.mediaType === mediaTypes.ociIndex) {
    const index = JSON.parse(top.bytes.toString('utf8')) as { manifests?: Descriptor[] }
    const entries = (index.manifests ?? []).filter((m) => platformMatches(m.platform, platform))
    const exact = entries.find((m) => m.platform?.variant === platform.variant) ?? entries[0]
    if (!exact) throw notFound(`no matching manifest for ${formatPlatform(platform)} in the manifest list entries`)
    fetched = await client.getManifest(repo, exact.digest, signal)
  }
  if (fetched.mediaType !== mediaTypes.dockerManifest && fetched.mediaType !== mediaTypes.ociManifest) {
    throw invalid(`unsupported manifest media type ${JSON.stringify(fetched.mediaType)}`)
  }
  const manifest = JSON.parse(fetched.bytes.toString('utf8')) as Manifest
  if (!manifest.config?.digest || !Array.isArray(manifest.layers)) throw invalid('invalid manifest: config or layers missing')
  for (const l of manifest.layers) {
    if (foreignLayerTypes.has(l.mediaType)) throw invalid(`foreign layers are not supported: ${l.digest}`)
    if (!layerMediaTypes.has(l.mediaType)) throw invalid(`unsupported layer media type ${JSON.stringify(l.mediaType)}`)
  }
  return { manifest, digest: fetched.digest }
}

async function extract(layer: Descriptor, parent: Digest | null, diffId: Digest, deps: PullDeps, progress: ProgressSink): Promise<void> {
  const id = shortDigest(layer.digest)
  const report = byteProgress(progress, id, 'Extracting', layer.size)
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      report(chunk.length)
      cb(null, chunk)
    },
  })
  try {
    const source = deps.content.open(layer.digest)
    source.on('error', (err) => counter.destroy(err))
    // An uncompressed layer's diff ID is its blob's digest, which the content store checked as it came in.
    await deps.layers.apply(source.pipe(counter), parent, diffId, { verified: layer.digest === diffId })
  } catch (err) {
    throw invalid(`failed to register layer ${id}: ${messageOf(err)}`, err)
  }
  report(0, true)
  progress({ status: 'Pull complete', progressDetail: {}, id })
}

/** Downloads layer blobs, `concurrency` at a time, in manifest order; `done` waits for one. */
class LayerDownloads {
  readonly #client: RegistryClient
  readonly #repo: string
  readonly #deps: PullDeps
  readonly #progress: ProgressSink
  readonly #abort = new AbortController()
  readonly #queue: Descriptor[] = []
  readonly #results = new Map<Digest, Promise<void>>()
  readonly #resolvers = new Map<Digest, { resolve: () => void; reject: (e: unknown) => void }>()
  #running = 0
  #failure: unknown

  constructor(client: RegistryClient, repo: string, deps: PullDeps, progress: ProgressSink, signal?: AbortSignal) {
    this.#client = client
    this.#repo = repo
    this.#deps = deps
    this.#progress = progress
    signal?.addEventListener('abort', () => this.#abort.abort(signal.reason), { once: true })
  }

  want(layer: Descriptor): void {
    if (this.#results.has(layer.digest)) return
    this.#queue.push(layer)
    const p = new Promise<void>((resolve, reject) => this.#resolvers.set(layer.digest, { resolve, reject }))
    p.catch(() => {}) // observed through done()
    this.#results.set(layer.digest, p)
    this.#progress({ status: 'Pulling fs layer', progressDetail: {}, id: shortDigest(layer.digest) })
  }

  start(): void {
    for (const l of this.#queue.slice(this.#deps.concurrency)) this.#progress({ status: 'Waiting', progressDetail: {}, id: shortDigest(l.digest) })
    this.#next()
  }

  done(digest: Digest): Promise<void> {
    return this.#results.get(digest) ?? Promise.resolve()
  }

  /** The reason of the first stop: what went wrong first, when the layers that failed after were only aborted. */
  get failure(): unknown {
    return this.#failure
  }

  /** Stops: what runs is aborted, what waits fails with `reason`. */
  stop(reason: unknown): void {
    if (!this.#abort.signal.aborted) this.#failure = reason
    this.#abort.abort()
    for (const l of this.#queue.splice(0)) this.#resolvers.get(l.digest)!.reject(reason)
  }

  /** Stops what is still running (after a failure) and waits until nothing writes any more. */
  async settle(): Promise<void> {
    this.stop(new Error('pull stopped'))
    while (this.#running > 0) await new Promise((r) => setTimeout(r, 10))
  }

  #next(): void {
    while (this.#running < this.#deps.concurrency && this.#queue.length > 0 && !this.#abort.signal.aborted) {
      const layer = this.#queue.shift()!
      this.#running++
      const { resolve, reject } = this.#resolvers.get(layer.digest)!
      this.#download(layer).then(resolve, (err: unknown) => {
        reject(err)
        this.stop(err)
      }).finally(() => {
        this.#running--
        this.#next()
      })
    }
  }

  async #download(layer: Descriptor): Promise<void> {
    const id = shortDigest(layer.digest)
    if (!(await this.#deps.content.has(layer.digest))) {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#fetch(layer, id)
          break
        } catch (err) {
          // A reset mid-blob is retried from the start; a digest mismatch or an answer from the registry is not.
          if (err instanceof CaisError || this.#abort.signal.aborted || attempt >= 3) {
            if (err instanceof CaisError) throw new CaisError(err.kind, `failed to pull layer ${id}: ${err.message}`, { cause: err })
            throw new Error(`failed to pull layer ${id}: ${messageOf(err)}`, { cause: err })
          }
          this.#progress({ status: `Retrying in ${attempt} second${attempt > 1 ? 's' : ''}`, progressDetail: {}, id })
          await new Promise((r) => setTimeout(r, attempt * 1000))
        }
      }
      this.#progress({ status: 'Verifying Checksum', progressDetail: {}, id })
    }
    this.#progress({ status: 'Download complete', progressDetail: {}, id })
  }

  async #fetch(layer: Descriptor, id: string): Promise<void> {
    const blob = await this.#client.getBlob(this.#repo, layer.digest, this.#abort.signal)
    const report = byteProgress(this.#progress, id, 'Downloading', layer.size || blob.size)
    let bytes = 0
    blob.body.on('data', (chunk: Buffer) => {
      bytes += chunk.length
      report(chunk.length)
    })
    try {
      await this.#deps.content.ingest(blob.body, layer.digest, { signal: this.#abort.signal })
    } finally {
      this.#deps.transferred?.('pull', bytes)
    }
  }
}
