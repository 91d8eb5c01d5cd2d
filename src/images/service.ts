import type { ContentStore } from '../content/store.ts'
import { type Digest, digestOf, hexOf } from '../content/digest.ts'
import { conflict, invalid, messageOf, notFound } from '../lib/errors.ts'
import { type StoreProblem, brokenProblems } from '../store/records.ts'
import type { Filters } from '../lib/filters.ts'
import { matchLabels } from '../lib/filters.ts'
import { shortId } from '../lib/ids.ts'
import { parseTimestamp } from '../lib/time.ts'
import { type Platform, requirePlatform } from '../lib/platform.ts'
import type { LayerStore } from '../snapshots/layers.ts'
import { chainIdsOf } from '../snapshots/layers.ts'
import type { EventBus } from '../events/bus.ts'
import type { ImageDeleteItem, ImageHistoryItem, ImageInspect, ImageSummary } from '../wire/types.ts'
import {
  type Reference,
  familiarRepository,
  familiarString,
  formatReference,
  looksLikeId,
  parseReference,
  withDefaultTag,
} from './reference.ts'
import type { ImageStore } from './store.ts'
import { type Descriptor, type ImageConfig, type ImageRecord, type Manifest, mediaTypes } from './types.ts'

/** Who uses images and layers besides other images: containers. */
export interface ImageUsers {
  containersUsing(imageId: Digest): Array<{ id: string; running: boolean }>
  /** Top layers of every container's image: their chains must stay. */
  containerTopLayers(): Digest[]
}

export interface NewLayer {
  blob: Descriptor
  diffId: Digest
}

export class ImageService {
  readonly #store: ImageStore
  readonly #content: ContentStore
  readonly #layers: LayerStore
  readonly #events: EventBus
  readonly #users: () => ImageUsers
  readonly #configs = new Map<Digest, ImageConfig>()
  /** Manifest descriptors by image ID, read once: every container create records one. */
  readonly #descriptors = new Map<Digest, Descriptor>()
  /** Blobs and layers that work in flight (a load, an import) holds: gc leaves them alone. */
  readonly #leases = new Map<Digest, number>()
  /** Counts leases taken: a gc running across one knows that what it decided to keep may have grown. */
  #leaseGeneration = 0
  /** Images the start found unusable and removed, for `system check` to report. */
  readonly #forgotten: StoreProblem[] = []

  constructor(deps: { store: ImageStore; content: ContentStore; layers: LayerStore; events: EventBus; users: () => ImageUsers }) {
    this.#store = deps.store
    this.#content = deps.content
    this.#layers = deps.layers
    this.#events = deps.events
    this.#users = deps.users
  }

  async init(): Promise<void> {
    for (const rec of this.#store.records.values()) {
      const config = await this.#readConfig(rec.id).catch(() => undefined)
      // An image whose config or layers went missing cannot be used; forget it rather than fail later.
      if (!config || chainIdsOf(config.rootfs.diff_ids).some((c) => !this.#layers.get(c))) {
        const refs = this.#store.refsOf(rec.id)
        const tags = refs.length > 0 ? `, and its references with it (${refs.join(', ')})` : ''
        this.#forgotten.push({ object: 'image', id: rec.id, problem: `removed at start: its ${config ? 'layers' : 'config'} went missing${tags}` })
        if (refs.length > 0) await this.#store.setRefs({ remove: refs })
        await this.#store.delete(rec.id)
      }
    }
    await this.gc()
  }

  /**
   * Each image against its config blob and its layers, the references against the images, and the records found
   * broken at start. `repair` drops references to images that are not here and sets broken records aside.
   */
  async check(repair: { root: string } | undefined): Promise<{ checked: number; problems: StoreProblem[] }> {
    const store = this.#store
    // Reported until a repair has said so once: nothing is left of them to mend.
    const forgotten = this.#forgotten.map((p) => ({ ...p, ...(repair ? { repaired: 'nothing left to mend' } : {}) }))
    if (repair) this.#forgotten.length = 0
    const problems = [...forgotten, ...(await brokenProblems(store.broken, repair))]
    for (const rec of store.records.values()) {
      const id = rec.id
      let config: ImageConfig
      try {
        config = JSON.parse((await this.#content.read(id)).toString('utf8')) as ImageConfig
      } catch (err) {
        problems.push({ object: 'image', id, problem: `its config cannot be read: ${messageOf(err)}` })
        continue
      }
      const chains = chainIdsOf(config.rootfs?.diff_ids ?? [])
      const missing = chains.filter((c) => !this.#layers.get(c))
      if (missing.length > 0) problems.push({ object: 'image', id, problem: `${missing.length} of its ${chains.length} layers are missing (${missing.join(', ')})` })
    }
    const dangling = [...store.danglingRefs]
    for (const [ref, id] of dangling) problems.push({ object: 'reference', id: ref, problem: `names image ${id}, which is not here`, ...(repair ? { repaired: 'removed' } : {}) })
    if (repair && dangling.length > 0) {
      store.danglingRefs.clear()
      await store.setRefs({})
    }
    return { checked: store.records.size, problems }
  }

  get count(): number {
    return this.#store.records.size
  }

  async #readConfig(id: Digest): Promise<ImageConfig> {
    let config = this.#configs.get(id)
    if (!config) {
      config = JSON.parse((await this.#content.read(id)).toString()) as ImageConfig
      this.#configs.set(id, config)
    }
    return config
  }

  config(id: Digest): ImageConfig {
    const c = this.#configs.get(id)
    if (!c) throw notFound(`No such image: ${id}`)
    return c
  }

  /** Top layer (chain ID) of an image, or null for an image without layers. */
  topLayer(id: Digest): Digest | null {
    return chainIdsOf(this.config(id).rootfs.diff_ids).at(-1) ?? null
  }

  has(id: Digest): boolean {
    return this.#store.records.has(id)
  }

  /** Finds an image by ID, ID prefix or reference. Lookup order follows Docker: full ID, reference, ID prefix. */
  resolve(input: string): ImageRecord {
    const found = this.#find(input)
    if (!found) throw notFound(`No such image: ${input}`)
    return found
  }

  #find(input: string): ImageRecord | undefined {
    if (/^sha256:[a-f0-9]{64}$/.test(input)) return this.#store.records.get(input as Digest)
    if (/^[a-f0-9]{64}$/.test(input)) return this.#store.records.get(`sha256:${input}`)
    let ref: Reference | undefined
    try {
      ref = withDefaultTag(parseReference(input))
    } catch (err) {
      if (!looksLikeId(input)) throw err
    }
    if (ref) {
      const id = this.#store.refs.get(formatReference(ref))
      if (id) return this.#store.records.get(id)
    }
    if (looksLikeId(input)) {
      const prefix = input.replace(/^sha256:/, '')
      const matches = [...this.#store.records.keys()].filter((id) => hexOf(id).startsWith(prefix))
      if (matches.length === 1) return this.#store.records.get(matches[0]!)
    }
    return undefined
  }

  /** Records a new image from a config and its layer blobs (already stored and unpacked). */
  async create(config: ImageConfig, layers: NewLayer[], opts: { parent?: Digest } = {}): Promise<ImageRecord> {
    // The config and manifest are held from before they are written until the image refers to them.
    const lease = this.lease()
    try {
      const configJson = JSON.stringify(config)
      lease.add(digestOf(configJson))
      const configBlob = await this.#content.put(configJson)
      const manifest: Manifest = {
        schemaVersion: 2,
        mediaType: mediaTypes.ociManifest,
        config: { mediaType: mediaTypes.ociConfig, digest: configBlob.digest, size: configBlob.size },
        layers: layers.map((l) => l.blob),
      }
      const manifestJson = JSON.stringify(manifest)
      lease.add(digestOf(manifestJson))
      const manifestBlob = await this.#content.put(manifestJson)
      return await this.register(config, configBlob.digest, manifestBlob.digest, manifest.layers, opts.parent)
    } finally {
      lease.release()
    }
  }

  /**
   * Records an image whose config, manifest and layer blobs are already stored byte for byte (a pull keeps the
   * registry's bytes, so digests survive a push elsewhere). An image already here is returned as it is.
   */
  async register(config: ImageConfig, id: Digest, manifest: Digest, layers: Descriptor[], parent?: Digest): Promise<ImageRecord> {
    const existing = this.#store.records.get(id)
    if (existing) return existing
    const rec: ImageRecord = { id, manifest, layers, added: Date.now(), ...(parent ? { parent } : {}) }
    this.#configs.set(id, config)
    await this.#store.put(rec)
    return rec
  }

  /** The image a normalised reference string (`docker.io/library/busybox:latest`) points at, if any. */
  target(ref: Reference): Digest | undefined {
    return this.#store.refs.get(formatReference(ref))
  }

  /** Records `repository@digest` (a manifest digest from a registry) as pointing at an image; RepoDigests shows it. */
  async setDigestReference(id: Digest, ref: Reference, digest: Digest): Promise<void> {
    await this.#store.setRefs({ set: [[formatReference({ domain: ref.domain, path: ref.path, digest }), id]] })
  }

  /** The stored manifest of an image, and its media type. */
  async manifest(id: Digest): Promise<{ bytes: Buffer; manifest: Manifest }> {
    const rec = this.resolve(id)
    const bytes = await this.#content.read(rec.manifest)
    return { bytes, manifest: JSON.parse(bytes.toString('utf8')) as Manifest }
  }

  /** Normalised tag references (`docker.io/library/busybox:latest`) of one repository that point at images. */
  tagsOf(repository: string): Array<{ ref: Reference; id: Digest }> {
    const out: Array<{ ref: Reference; id: Digest }> = []
    for (const [r, id] of this.#store.refs) {
      const ref = parseReference(r)
      if (ref.tag !== undefined && `${ref.domain}/${ref.path}` === repository) out.push({ ref, id })
    }
    return out.sort((a, b) => (a.ref.tag! < b.ref.tag! ? -1 : 1))
  }

  /** Points `target` (a reference string) at an image. */
  async tag(source: string, target: string, opts: { quiet?: boolean } = {}): Promise<void> {
    const rec = this.resolve(source)
    const ref = withDefaultTag(parseReference(target))
    if (ref.digest !== undefined) throw conflict('refusing to create a tag with a digest reference')
    // A tag that already names this image (a rebuild's) changes only the tag time, which need not be synced.
    const key = formatReference(ref)
    const unchanged = this.#store.refs.get(key) === rec.id
    if (!unchanged) await this.#store.setRefs({ set: [[key, rec.id]] })
    rec.lastTagTime = new Date().toISOString()
    await this.#store.put(rec, { durable: !unchanged })
    if (!opts.quiet) this.#events.emit('image', 'tag', rec.id, { name: familiarString(ref) })
  }

  repoTags(id: Digest): string[] {
    return this.#store
      .refsOf(id)
      .map((r) => parseReference(r))
      .filter((r) => r.digest === undefined)
      .map(familiarString)
      .sort()
  }

  repoDigests(id: Digest): string[] {
    return this.#store
      .refsOf(id)
      .map((r) => parseReference(r))
      .filter((r) => r.digest !== undefined)
      .map((r) => `${familiarRepository(r)}@${r.digest}`)
  }

  size(id: Digest): number {
    return chainIdsOf(this.config(id).rootfs.diff_ids).reduce((sum, c) => sum + (this.#layers.get(c)?.size ?? 0), 0)
  }

  /** Each image's `SharedSize`, as Docker's `shared-size`: the sizes of its layers that another image has too. */
  sharedSizes(): Map<Digest, number> {
    const chainsOf = new Map([...this.#store.records.keys()].map((id) => [id, new Set(chainIdsOf(this.config(id).rootfs.diff_ids))]))
    const users = new Map<Digest, number>()
    for (const chains of chainsOf.values()) for (const c of chains) users.set(c, (users.get(c) ?? 0) + 1)
    const shared = (chains: Set<Digest>): number => [...chains].filter((c) => users.get(c)! > 1).reduce((sum, c) => sum + (this.#layers.get(c)?.size ?? 0), 0)
    return new Map([...chainsOf].map(([id, chains]) => [id, shared(chains)]))
  }

  /** Every layer's size once, however many images share it (`system df`'s LayersSize). */
  layersSize(): number {
    return this.#layers.all().reduce((sum, l) => sum + l.size, 0)
  }

  /** The platform an image is for, from its config. */
  platformOf(id: Digest): Platform {
    const config = this.config(id)
    return { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }
  }

  /** Resolves a reference whose image must be for `platform` when one is given (404 otherwise, as Docker's). */
  resolveFor(input: string, platform: Platform | undefined): ImageRecord {
    const rec = this.resolve(input)
    if (platform) requirePlatform(input, this.platformOf(rec.id), platform)
    return rec
  }

  /** The descriptor of an image's manifest with the image's platform: what a multi-platform store shows of it. */
  async manifestDescriptor(id: Digest): Promise<Descriptor> {
    const rec = this.resolve(id)
    const known = this.#descriptors.get(rec.id)
    if (known?.digest === rec.manifest) return known
    const { bytes, manifest } = await this.manifest(rec.id)
    const { os, architecture, variant } = this.platformOf(rec.id)
    const descriptor = {
      mediaType: manifest.mediaType ?? mediaTypes.ociManifest,
      digest: rec.manifest,
      size: bytes.length,
      platform: { architecture, os, ...(variant ? { variant } : {}) },
    }
    this.#descriptors.set(rec.id, descriptor)
    return descriptor
  }

  list(opts: { all?: boolean; filters: Filters }): ImageSummary[] {
    const f = opts.filters
    const refFilter = f.get('reference')
    const dangling = f.get('dangling')?.[0]
    const before = f.get('before')?.map((r) => this.resolve(r).added)
    const since = f.get('since')?.map((r) => this.resolve(r).added)
    const until = f.get('until')?.map((u) => parseTimestamp(u) ?? Number.POSITIVE_INFINITY)
    const out: ImageSummary[] = []
    const parents = this.#parents()
    for (const rec of this.#store.records.values()) {
      const config = this.config(rec.id)
      const tags = this.repoTags(rec.id)
      // An intermediate image (untagged, the parent of another: a build step's) shows only with --all, as Docker's.
      if (!opts.all && tags.length === 0 && parents.has(rec.id) && this.repoDigests(rec.id).length === 0) continue
      const labels = config.config?.Labels ?? {}
      if (dangling !== undefined && (dangling === 'true' || dangling === '1') !== (tags.length === 0)) continue
      if (!matchLabels(f.get('label'), labels)) continue
      // A reference filter lists only the references it matches, as Docker's: `images busybox` shows busybox's
      // tags, not every tag of an image that also has one named busybox.
      const shownTags = refFilter ? tags.filter((t) => refFilter.some((pattern) => matchReference(pattern, t))) : tags
      const digests = this.repoDigests(rec.id)
      const shownDigests = refFilter ? digests.filter((d) => refFilter.some((pattern) => matchReference(pattern, d))) : digests
      if (refFilter && shownTags.length === 0 && shownDigests.length === 0) continue
      if (before && !before.every((b) => rec.added < b)) continue
      if (since && !since.every((s) => rec.added > s)) continue
      const created = Date.parse(config.created ?? '') || rec.added
      if (until && !until.every((u) => created < u)) continue
      const size = this.size(rec.id)
      out.push({
        Id: rec.id,
        ParentId: this.#parentOf(rec),
        RepoTags: shownTags,
        RepoDigests: shownDigests,
        Created: Math.floor(created / 1000),
        Size: size,
        SharedSize: -1,
        Labels: labels,
        Containers: -1,
      })
    }
    return out.sort((a, b) => b.Created - a.Created)
  }

  inspect(input: string): ImageInspect {
    const rec = this.resolve(input)
    const config = this.config(rec.id)
    const inspect: ImageInspect = {
      Id: rec.id,
      RepoTags: this.repoTags(rec.id),
      RepoDigests: this.repoDigests(rec.id),
      Parent: this.#parentOf(rec),
      Comment: config.comment ?? '',
      Created: config.created ?? new Date(rec.added).toISOString(),
      DockerVersion: '',
      Author: config.author ?? '',
      Config: { Env: null, Cmd: null, Entrypoint: null, WorkingDir: '', Labels: null, OnBuild: null, User: '', ...config.config },
      Architecture: config.architecture,
      Os: config.os,
      Size: this.size(rec.id),
      GraphDriver: { Name: 'overlay2', Data: null },
      RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
      Metadata: { LastTagTime: rec.lastTagTime ?? '0001-01-01T00:00:00Z' },
      // For API versions before 1.45, which the routes strip above it.
      Container: config.container ?? '',
      ContainerConfig: { ...emptyContainerConfig, ...config.container_config },
    }
    if (config.variant) inspect.Variant = config.variant
    return inspect
  }

  /** The image's parent while it is still here (Docker forgets a parent that was removed). */
  #parentOf(rec: ImageRecord): string {
    return rec.parent && this.#store.records.has(rec.parent) ? rec.parent : ''
  }

  /**
   * `docker history`, newest first: each entry of the config's history with the size of the layer it made, and
   * the ID (and tags) of the image whose top it is, for the image and each parent still here; `<missing>` for
   * entries that came from elsewhere.
   */
  history(input: string): ImageHistoryItem[] {
    const rec = this.resolve(input)
    const config = this.config(rec.id)
    const entries = config.history ?? []
    const chains = chainIdsOf(config.rootfs.diff_ids)
    let layer = 0
    const sizes = entries.map((h) => (h.empty_layer ? 0 : (this.#layers.get(chains[layer++] ?? ('' as Digest))?.size ?? 0)))
    // The entry at index n-1 is the top of an image here with n history entries: this one, then its parents.
    const tops = new Map<number, Digest>()
    const seen = new Set<Digest>()
    for (let cur: ImageRecord | undefined = rec; cur && !seen.has(cur.id); cur = cur.parent ? this.#store.records.get(cur.parent) : undefined) {
      seen.add(cur.id)
      const n = (this.config(cur.id).history ?? []).length
      if (n > 0 && !tops.has(n - 1)) tops.set(n - 1, cur.id)
    }
    return entries
      .map((h, i) => {
        const id = tops.get(i)
        return {
          Id: id ?? '<missing>',
          Created: Math.floor(Date.parse(h.created ?? config.created ?? '') / 1000) || 0,
          CreatedBy: h.created_by ?? '',
          Tags: id ? this.repoTags(id) : null,
          Size: sizes[i]!,
          Comment: h.comment ?? '',
        }
      })
      .reverse()
  }

  /** `docker rmi`: untags a reference, and deletes the image once nothing refers to it. */
  async remove(input: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<ImageDeleteItem[]> {
    const rec = this.resolve(input)
    const refs = this.#store.refsOf(rec.id)
    const users = this.#users().containersUsing(rec.id)
    const byId = looksLikeId(input) && !this.#refMatches(input, rec.id)
    const items: ImageDeleteItem[] = []

    if (!byId) {
      const ref = withDefaultTag(parseReference(input))
      const key = formatReference(ref)
      const lastRef = refs.length === 1
      if (lastRef && users.length > 0 && !opts.force) {
        throw conflict(
          `conflict: unable to remove repository reference "${input}" (must force) - container ${shortId(users[0]!.id)} is using its referenced image ${shortId(rec.id)}`,
        )
      }
      const removed = [key]
      if (ref.digest === undefined) {
        // The last tag of a repository takes that repository's digest references with it, as in Docker.
        const sameRepo = refs.filter((r) => r !== key).map((r) => [r, parseReference(r)] as const).filter(([, p]) => p.domain === ref.domain && p.path === ref.path)
        if (!sameRepo.some(([, p]) => p.digest === undefined)) removed.push(...sameRepo.map(([r]) => r))
      }
      await this.#store.setRefs({ remove: removed })
      for (const r of removed) {
        items.push({ Untagged: familiarString(parseReference(r)) })
        this.#events.emit('image', 'untag', rec.id, { name: rec.id })
      }
      // The image goes with its last reference unless a container needs it: a running one always, a stopped one
      // unless forced (as Docker's: the stopped container keeps its layers, not the image).
      if (refs.length > removed.length) return items
      if (users.some((u) => u.running) || (users.length > 0 && !opts.force)) return items
      if (this.#parents().has(rec.id)) return items
    } else {
      if (this.#parents().has(rec.id)) {
        throw conflict(`conflict: unable to delete ${shortId(rec.id)} (cannot be forced) - image has dependent child images`)
      }
      const running = users.find((u) => u.running)
      if (running) {
        throw conflict(`conflict: unable to delete ${shortId(rec.id)} (cannot be forced) - image is being used by running container ${shortId(running.id)}`)
      }
      if (!opts.force) {
        if (users.length > 0) {
          throw conflict(`conflict: unable to delete ${shortId(rec.id)} (must be forced) - image is being used by stopped container ${shortId(users[0]!.id)}`)
        }
        const tags = refs.filter((r) => parseReference(r).digest === undefined)
        if (tags.length > 1) {
          throw conflict(`conflict: unable to delete ${shortId(rec.id)} (must be forced) - image is referenced in multiple repositories`)
        }
      }
      for (const r of refs) {
        items.push({ Untagged: familiarString(parseReference(r)) })
        this.#events.emit('image', 'untag', rec.id, { name: rec.id })
      }
      await this.#store.setRefs({ remove: refs })
    }

    await this.#store.delete(rec.id)
    this.#forgetConfig(rec.id)
    items.push({ Deleted: rec.id })
    this.#events.emit('image', 'delete', rec.id, { name: rec.id })
    // Untagged parents nothing else needs go too (a built image's intermediate steps), unless --no-prune.
    if (!opts.noprune) items.push(...(await this.#removeUntaggedParents(rec.parent)))
    for (const chain of await this.gc()) items.push({ Deleted: chain })
    return items
  }

  /**
   * Drops a removed image's config, unless the same image came back while its record was being deleted (a load or
   * a pull of it racing the removal): a record without its config would fail every list.
   */
  #forgetConfig(id: Digest): void {
    if (this.#store.records.has(id)) return
    this.#configs.delete(id)
    this.#descriptors.delete(id)
  }

  /** Images that are the parent of another image here. */
  #parents(): Set<Digest> {
    const out = new Set<Digest>()
    for (const r of this.#store.records.values()) if (r.parent) out.add(r.parent)
    return out
  }

  async #removeUntaggedParents(parent: Digest | undefined): Promise<ImageDeleteItem[]> {
    const items: ImageDeleteItem[] = []
    for (let id = parent; id; ) {
      const rec = this.#store.records.get(id)
      if (!rec || this.#store.refsOf(id).length > 0 || this.#parents().has(id) || this.#users().containersUsing(id).length > 0) break
      await this.#store.delete(id)
      this.#forgetConfig(id)
      items.push({ Deleted: id })
      this.#events.emit('image', 'delete', id, { name: id })
      id = rec.parent
    }
    return items
  }

  /**
   * `docker image prune`: removes images no container uses — only those without a tag unless `dangling=false`
   * (`-a`) — filtered by `until` and `label`/`label!`. Space reclaimed counts the layers that went with them.
   */
  async prune(filters: Filters): Promise<{ ImagesDeleted: ImageDeleteItem[]; SpaceReclaimed: number }> {
    const danglingText = filters.get('dangling')?.[0] ?? 'true'
    if (!['true', 'false', '1', '0'].includes(danglingText)) throw invalid(`invalid filter 'dangling=${danglingText}'`)
    const danglingOnly = danglingText === 'true' || danglingText === '1'
    const until = filters.get('until')?.map((u) => parseTimestamp(u))
    if (until?.some((u) => u === undefined)) throw invalid(`invalid filter 'until'`)
    const layerSizes = new Map(this.#layers.all().map((l) => [l.chainId, l.size]))
    const inUse = new Set<Digest>()
    for (const rec of this.#store.records.values()) if (this.#users().containersUsing(rec.id).length > 0) inUse.add(rec.id)

    const deleted: ImageDeleteItem[] = []
    let reclaimed = 0
    // Only the top of a chain of images is pruned; its untagged parents go with it (Docker's image heads).
    const parents = this.#parents()
    for (const rec of [...this.#store.records.values()]) {
      if (!this.#store.records.has(rec.id) || parents.has(rec.id)) continue
      if (inUse.has(rec.id)) continue
      const config = this.config(rec.id)
      const labels = config.config?.Labels ?? {}
      if (danglingOnly && this.repoTags(rec.id).length > 0) continue
      if (!matchLabels(filters.get('label'), labels)) continue
      if ((filters.get('label!') ?? []).some((l) => matchLabels([l], labels))) continue
      const created = Date.parse(config.created ?? '') || rec.added
      if (until && !until.every((u) => created < u!)) continue
      // By ID with force: every reference goes, as Docker's prune deletes each reference of the image.
      for (const item of await this.remove(rec.id, { force: true })) {
        deleted.push(item)
        if (item.Deleted) reclaimed += layerSizes.get(item.Deleted as Digest) ?? 0
      }
    }
    if (deleted.length > 0) this.#events.emit('image', 'prune', '', { reclaimed: String(reclaimed) })
    return { ImagesDeleted: deleted, SpaceReclaimed: reclaimed }
  }

  #refMatches(input: string, id: Digest): boolean {
    try {
      return this.#store.refs.get(formatReference(withDefaultTag(parseReference(input)))) === id
    } catch {
      return false
    }
  }

  /**
   * Holds digests (blobs or chain IDs) against gc until the returned release is called. Work that makes a blob or a
   * layer adds it before it exists (or as it appears, through ContentStore.ingest's `hold`), so no gc can take it in
   * between.
   */
  lease(): { add(d: Digest): void; release(): void } {
    const held: Digest[] = []
    return {
      add: (d) => {
        held.push(d)
        this.#leases.set(d, (this.#leases.get(d) ?? 0) + 1)
        this.#leaseGeneration++
      },
      release: () => {
        for (const d of held.splice(0)) {
          const n = (this.#leases.get(d) ?? 1) - 1
          if (n <= 0) this.#leases.delete(d)
          else this.#leases.set(d, n)
        }
      },
    }
  }

  /**
   * Deletes layers and blobs nothing refers to. Returns the chain IDs of deleted layers. What is kept is worked out
   * again before each deletion when a lease was taken meanwhile: work running beside gc may have just made a blob.
   */
  async gc(): Promise<Digest[]> {
    let kept = this.#kept()
    const current = (): { layers: Set<Digest>; blobs: Set<Digest> } => (kept.generation === this.#leaseGeneration ? kept : (kept = this.#kept()))
    const deleted: Digest[] = []
    for (const layer of this.#layers.all()) {
      if (current().layers.has(layer.chainId)) continue
      if (await this.#layers.remove(layer.chainId, () => current().layers.has(layer.chainId))) deleted.push(layer.chainId)
    }
    for (const blob of await this.#content.list()) if (!current().blobs.has(blob)) await this.#content.delete(blob, () => current().blobs.has(blob))
    return deleted
  }

  /** The layers and blobs that images, containers and leases refer to now. */
  #kept(): { layers: Set<Digest>; blobs: Set<Digest>; generation: number } {
    const layers = new Set<Digest>()
    const blobs = new Set<Digest>()
    const keepChain = (top: Digest | null): void => {
      for (let cur = top; cur && !layers.has(cur); cur = this.#layers.get(cur)?.parent ?? null) layers.add(cur)
    }
    for (const rec of this.#store.records.values()) {
      blobs.add(rec.id)
      blobs.add(rec.manifest)
      for (const l of rec.layers) blobs.add(l.digest)
      keepChain(this.topLayer(rec.id))
    }
    for (const top of this.#users().containerTopLayers()) keepChain(top)
    for (const d of this.#leases.keys()) {
      keepChain(d)
      blobs.add(d)
    }
    return { layers, blobs, generation: this.#leaseGeneration }
  }

  /** Image records with their normalised references, for save and events. */
  references(id: Digest): Reference[] {
    return this.#store.refsOf(id).map((r) => parseReference(r))
  }
}

/** Docker's `reference=` filter: a glob over the familiar name, with or without its tag (or digest). */
function matchReference(pattern: string, familiar: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('')
        .map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('') +
      '$',
  )
  const repo = familiar.includes('@') ? familiar.slice(0, familiar.indexOf('@')) : familiar.slice(0, familiar.lastIndexOf(':'))
  return re.test(familiar) || re.test(repo)
}

/**
 * Docker's zero container Config: what an image no container made shows as its ContainerConfig before API 1.45, and
 * the fields its Config carried besides the image's own before 1.50.
 */
export const emptyContainerConfig = {
  Hostname: '',
  Domainname: '',
  User: '',
  AttachStdin: false,
  AttachStdout: false,
  AttachStderr: false,
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: null,
  Cmd: null,
  Image: '',
  Volumes: null,
  WorkingDir: '',
  Entrypoint: null,
  OnBuild: null,
  Labels: null,
}
