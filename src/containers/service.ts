import { EventEmitter } from 'node:events'
import { mkdir, rm, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { availableParallelism, constants as osConstants } from 'node:os'
import { type StoreProblem, brokenProblems } from '../store/records.ts'
import type { Digest } from '../content/digest.ts'
import type { EventBus } from '../events/bus.ts'
import type { ImageService, ImageUsers } from '../images/service.ts'
import { diskUsage } from '../lib/disk-usage.ts'
import { mountedAmong } from '../lib/mountinfo.ts'
import { CaisError, conflict, invalid, messageOf, notFound } from '../lib/errors.ts'
import { type Filters, matchLabels } from '../lib/filters.ts'
import { newId, randomName } from '../lib/ids.ts'
import type { Logger } from '../lib/log.ts'
import { KeyedMutex } from '../lib/mutex.ts'
import { rfc3339Nano } from '../lib/time.ts'
import type { Platform } from '../lib/platform.ts'
import { Runtime, RuntimeError, isNotFoundMessage } from '../runtime/runtime.ts'
import { ownsDev } from '../runtime/spec.ts'
import { CgroupReader } from '../runtime/cgroups.ts'
import { type StatsSample, sampleStats } from './stats.ts'
import type { Writable } from 'node:stream'
import type { RootfsManager } from '../snapshots/rootfs.ts'
import type { ContainerCreateBody, ContainerInspect, ContainerSummary, HealthConfig, WaitResponse } from '../wire/types.ts'
import { mergeConfig, normaliseHostConfig, validateName, validateResources } from './create-config.ts'
import { writeEtcFiles } from './etc-files.ts'
import { type LogEntry, logEnd, readLogs } from './logs.ts'
import { BackgroundRemoval } from '../store/background-removal.ts'
import { type ContainerRecord, initialState, stringList } from './record.ts'
import { containerFilter } from './list-filter.ts'
import { processesOf } from './top.ts'
import type { ContainerStore } from './store.ts'
import { type Change, containerChanges } from './changes.ts'
import type { ContainerFs } from './archive.ts'
import { validateSecurity } from './security.ts'
import { type ViewDeps, attributesOf, inspectView, summaryView } from './views.ts'
import { conmonLogSizeMax, logAttributes, validateLogConfig } from './log-config.ts'
import { type ContainerDefaults, applyCreateDefaults, builtinDefaults, dnsFor, noNewPrivileges } from './defaults.ts'
import { type RuntimeChoices, defaultRuntimeChoices, runtimeBinaryOf, runtimeNameFor } from './runtimes.ts'
import { parseTimestamp } from '../lib/time.ts'
import { RestartScheduler, startsWithDaemon } from './restart-policy.ts'
import { ContainerNetworks } from './container-networks.ts'
import { linkNames } from './links.ts'
import { containerStdin, resizeContainerTerminal } from './terminal-io.ts'
import { updateContainer } from './update.ts'
import { type MountPoint, copyUpAtCreate, imageMountIndexes, mayCopyUp, resolveMounts } from './mounts.ts'
import { runSpec } from './run-spec.ts'
import type { VolumeService, VolumeUsers } from '../volumes/service.ts'
import { type EndpointRequest, NetworkService } from '../networks/service.ts'
import { requestedNetworks, summaryPorts } from './networking.ts'

export type WaitCondition = 'not-running' | 'next-exit' | 'removed'

export interface ContainerServiceDeps {
  store: ContainerStore
  images: ImageService
  rootfs: RootfsManager
  runtime: Runtime
  events: EventBus
  log: Logger
  volumes: VolumeService
  networks: NetworkService
  /** The init process bound in for `--init`. */
  initBinary: string
  /** Where bundles (config.json, pid files) live: lost on reboot, as /run is. */
  runtimeDir: string
  /** The daemon's settings for containers that do not make their own: log driver, DNS, ulimits, shm size. */
  defaults?: ContainerDefaults
  /** The runtimes containers may name, and the default (read at each create and start: a reload changes them). */
  runtimes?: RuntimeChoices
  /** Fails a start whose log target cannot be reached (the syslog driver's), before anything is set up. */
  checkLogTarget?: (rec: ContainerRecord) => Promise<void>
}

const defaultStopTimeout = 10

/** The container life cycle: create, start, stop, kill, wait, remove, and the views Docker clients read. */
export class ContainerService implements ImageUsers, VolumeUsers {
  readonly #d: ContainerServiceDeps
  get #defaults(): ContainerDefaults {
    return this.#d.defaults ?? builtinDefaults
  }
  get #runtimes(): RuntimeChoices {
    return this.#d.runtimes ?? defaultRuntimeChoices
  }
  readonly #lock = new KeyedMutex()
  /** Records and what runs agree (reconcile has run): a store check compares them from then on. */
  #reconciled = false
  readonly #names = new Map<string, string>()
  /** Per-container 'exit' and 'removed' notifications, for wait, attach and logs --follow. */
  readonly #signals = new EventEmitter()
  readonly #removing = new Set<string>()
  /** Bundles of runs that ended: renamed away at once (a start may make the same one again), deleted later. */
  readonly #bundleRemoval = new BackgroundRemoval()
  /** Containers whose last run this daemon has already released (#cleanupRun): removal need not do it again. */
  readonly #released = new Set<string>()
  /**
   * Containers that exited while being removed, whose crun state (cgroups and state dir) waits for their record to
   * go: released after the removal's answer (`reaped` as for #markExited). A crash in between leaves crun state
   * with no record, which the next start removes.
   */
  readonly #runtimeStateLeft = new Map<string, { reaped: boolean }>()
  readonly #lateReleases = new Set<Promise<void>>()
  #sweeper: NodeJS.Timeout | undefined
  readonly #monitorMissing = new Map<string, number>()
  /** Pending restarts by policy, and the last backoff delay of each container. */
  readonly #restarts: RestartScheduler
  /** Exec IDs of a running container, for inspect's ExecIDs; forgotten when it stops. */
  readonly #execIds = new Map<string, string[]>()
  readonly #cgroups = new CgroupReader()
  readonly #networking: ContainerNetworks

  constructor(deps: ContainerServiceDeps) {
    this.#d = deps
    this.#signals.setMaxListeners(0)
    this.#networking = new ContainerNetworks({
      networks: deps.networks,
      get: (ref) => this.get(ref),
      locked: (id, fn) => this.#lock.run(id, fn),
      save: (rec) => this.#d.store.save(rec),
    })
    this.#restarts = new RestartScheduler({
      start: (id) => this.start(id, { byPolicy: true, onlyIfRestarting: true }),
      save: (rec) => this.#d.store.save(rec),
      exists: (id) => this.#d.store.records.has(id),
      log: deps.log,
    })
  }

  // ---- start-up

  async init(): Promise<void> {
    await mkdir(this.#d.runtimeDir, { recursive: true })
    await this.#bundleRemoval.sweep(this.#d.runtimeDir)
    for (const rec of this.#d.store.records.values()) {
      this.#names.set(rec.name, rec.id)
      // A container under a runtime of its own is stopped, killed and removed by that runtime, after a restart too.
      try {
        this.#d.runtime.register(rec.id, runtimeBinaryOf(rec.hostConfig['Runtime'] as string | undefined, this.#runtimes))
      } catch {
        this.#d.log.warn('container runtime no longer configured', { container: rec.id, runtime: rec.hostConfig['Runtime'] })
      }
    }
  }

  /** Reconciles records with what conmon and crun report, then follows exits. */
  async reconcile(): Promise<void> {
    for (const rec of [...this.#d.store.records.values()]) {
      if (rec.state.Status !== 'running' && rec.state.Status !== 'paused') continue
      const code = this.#d.runtime.exitCode(rec.id)
      if (code !== undefined) continue // handled by the exit watcher below
      const alive = await this.#d.runtime.conmonPid(this.#bundle(rec.id), rec.id)
      if (!alive) {
        this.#d.log.warn('container lost while caisd was down', { container: rec.id })
        await this.#markExited(rec, 128 + 9, { error: 'container process lost while the daemon was down' })
        await this.#afterExit(rec)
      }
    }
    // A pause the daemon died in (never answered) or a commit's is undone; an unpause it died in is recorded.
    for (const rec of this.all) {
      if (!rec.state.Running) continue
      const frozen = await this.#cgroups.frozen(`cais/${rec.id}`)
      if (frozen && (rec.pausedForCommit || !rec.state.Paused)) await this.#d.runtime.resume(rec.id).catch((err: unknown) => this.#d.log.warn('unpause at start failed', { container: rec.id, err }))
      else if (frozen || !rec.state.Paused) continue
      rec.state = { ...rec.state, Paused: false, Status: 'running' }
      delete rec.pausedForCommit
      await this.#d.store.save(rec)
    }
    const withRuntimeState = await this.#d.runtime.containerIds()
    // A start the daemon died in: crun has the container (maybe running) but the record never said so, and the start
    // was never answered. Its process and what the start set up go; the container stays as its record says.
    for (const id of withRuntimeState) {
      const rec = this.#d.store.records.get(id)
      if (!rec || rec.state.Status === 'running' || rec.state.Status === 'paused') continue
      this.#d.log.warn('undoing a start that never finished', { container: id })
      await this.#cleanupRun(rec)
    }
    // A start or a copy the daemon died in may have left a container that does not run with its root mounted.
    const idle = this.all.filter((r) => r.state.Status !== 'running' && r.state.Status !== 'paused')
    const mounted = await mountedAmong(idle.map((r) => this.rootfsPath(r.id)))
    for (const rec of idle) if (mounted.has(this.rootfsPath(rec.id))) await this.#d.rootfs.unmount(this.#rootfsDir(rec.id))
    for (const rec of idle) if (rec.mounts?.some((m) => m.type === 'image')) await this.#d.rootfs.unmountImages(this.#rootfsDir(rec.id))
    // crun state with no record behind it (a record lost): its process, its monitor and its namespace go.
    for (const id of withRuntimeState) {
      if (this.#d.store.records.has(id)) continue
      this.#d.log.warn('removing a container caisd has no record of', { container: id })
      await this.#d.runtime.delete(id, { force: true }).catch((err: unknown) => this.#d.log.warn('removal failed', { container: id, err }))
      await rm(this.#bundle(id), { recursive: true, force: true })
      await this.#d.networks.detach(id)
    }
    await this.#d.networks.forgetUnknown(new Set(this.#d.store.records.keys()))
    for (const rec of this.all) {
      if (NetworkService.isBridgeMode(rec.hostConfig.NetworkMode)) await this.#d.networks.restore(rec.id, rec.state.Running)
    }
    await this.#d.runtime.watchExits((id) => void this.#onExit(id).catch((err: unknown) => this.#d.log.error('exit handling failed', { container: id, err: messageOf(err) })))
    this.#reconciled = true
    this.#sweeper = setInterval(() => void this.#sweep().catch((err: unknown) => this.#d.log.error('exit sweep failed', { err: messageOf(err) })), 1000)
    this.#sweeper.unref()
    for (const rec of this.all) {
      if (rec.state.Running || !startsWithDaemon(rec.hostConfig.RestartPolicy, rec.manuallyStopped ?? false)) continue
      if (rec.state.Restarting) rec.state = { ...rec.state, Restarting: false, Status: 'exited' }
      await this.start(rec.id, { byPolicy: true }).catch((err: unknown) => this.#d.log.warn('restart at daemon start failed', { container: rec.id, err }))
    }
  }

  close(): void {
    clearInterval(this.#sweeper)
    this.#restarts.close()
  }

  /** Resolves once the bundles being deleted are gone and crun's state left by removals is released. */
  async settled(): Promise<void> {
    await Promise.all([this.#bundleRemoval.settled(), ...this.#lateReleases])
  }

  /**
   * A safety net under the exit watcher: exit files it did not report, and running containers whose conmon
   * is gone without one (their exit code is lost; they are marked exited with 137 and an error).
   */
  async #sweep(): Promise<void> {
    const running = this.all.filter((r) => r.state.Running)
    if (running.length === 0) return
    const exitFiles = await this.#d.runtime.exitFiles()
    for (const rec of running) {
      if (exitFiles.has(rec.id)) {
        this.#d.log.warn('exit found by the sweep, not the watcher', { container: rec.id })
        await this.#onExit(rec.id)
        continue
      }
      if (await this.#d.runtime.conmonPid(this.#bundle(rec.id), rec.id)) {
        this.#monitorMissing.delete(rec.id)
        continue
      }
      // conmon may still be writing the exit file as it goes: only a monitor missing for three sweeps
      // in a row, with no exit file, counts as lost.
      const misses = (this.#monitorMissing.get(rec.id) ?? 0) + 1
      this.#monitorMissing.set(rec.id, misses)
      if (misses < 3) continue
      this.#monitorMissing.delete(rec.id)
      this.#d.log.warn('conmon gone without an exit file', { container: rec.id, diagnostics: await this.#d.runtime.diagnose(this.#bundle(rec.id), rec.id) })
      const exited = await this.#lock.run(rec.id, async () => {
        if (!rec.state.Running) return false
        await this.#markExited(rec, 137, { error: 'container monitor (conmon) exited without reporting an exit code' })
        return true
      })
      if (exited) await this.#afterExit(rec)
    }
  }

  // ---- lookup

  /** Finds a container by full ID, name, or unique ID prefix, as Docker. */
  get(ref: string): ContainerRecord {
    const recs = this.#d.store.records
    const direct = recs.get(ref)
    if (direct) return direct
    const byName = this.#names.get(ref.startsWith('/') ? ref : `/${ref}`)
    // A name whose container is being removed (its record already gone) names nothing.
    const named = byName === undefined ? undefined : recs.get(byName)
    if (named) return named
    if (/^[a-f0-9]+$/.test(ref)) {
      const matches = [...recs.keys()].filter((id) => id.startsWith(ref))
      if (matches.length === 1) return recs.get(matches[0]!)!
      if (matches.length > 1) throw invalid(`multiple IDs found with provided prefix: ${ref}`)
    }
    throw notFound(`No such container: ${ref}`)
  }

  get all(): ContainerRecord[] {
    return [...this.#d.store.records.values()]
  }

  containersUsing(imageId: Digest): Array<{ id: string; running: boolean }> {
    return this.all.filter((c) => c.imageId === imageId).map((c) => ({ id: c.id, running: c.state.Running }))
  }

  containersUsingVolume(name: string): string[] {
    return this.all.filter((c) => (c.mounts ?? []).some((m) => m.type === 'volume' && m.source === name)).map((c) => c.id)
  }

  /** The top layers containers keep: their own image's, and those of the images they mount. */
  containerTopLayers(): Digest[] {
    const imageMounts = (c: ContainerRecord): Array<Digest | null> => (c.mounts ?? []).map((m) => (m.type === 'image' ? (m.imageTop ?? null) : null))
    return this.all.flatMap((c) => [c.topLayer, ...imageMounts(c)]).filter((t): t is Digest => t !== null)
  }

  // ---- create

  /** Creates a container; with `platform`, its image must be for that platform (404 otherwise, so clients pull it). */
  async create(body: ContainerCreateBody, nameArg?: string, platform?: Platform): Promise<{ Id: string; Warnings: string[] }> {
    if (!body || typeof body !== 'object') throw invalid('config cannot be empty in order to create a container')
    if (typeof body.Image !== 'string' || body.Image === '') throw invalid('No image was specified')
    const image = this.#d.images.resolveFor(body.Image, platform)
    const imageConfig = this.#d.images.config(image.id)
    const hostConfig = normaliseHostConfig(body.HostConfig)
    validateResources(hostConfig, availableParallelism())
    await validateSecurity(hostConfig, body.Hostname ?? '')
    applyCreateDefaults(hostConfig, this.#defaults)
    hostConfig['Runtime'] = runtimeNameFor(hostConfig['Runtime'] as string | undefined, this.#runtimes)
    validateLogConfig(hostConfig.LogConfig)
    const networks = requestedNetworks(body, hostConfig, this.#d.networks, (ref) => this.get(ref))
    const id = newId()
    const name = this.#claimName(nameArg, id)
    let config
    try {
      hostConfig['Links'] = this.#networking.links(hostConfig, name)
      config = mergeConfig(body, imageConfig, id)
      // In another container's network namespace it is that container's host: its name, as Docker's.
      if (hostConfig.NetworkMode.startsWith('container:')) {
        const target = this.get(hostConfig.NetworkMode.slice('container:'.length))
        config = { ...config, Hostname: target.config.Hostname, Domainname: target.config.Domainname }
      }
    } catch (err) {
      this.#names.delete(name)
      throw err
    }
    const argv = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])]
    let mounts: MountPoint[]
    try {
      if (argv.length === 0) throw invalid('no command specified')
      mounts = await this.#resolveMounts(body, hostConfig, imageConfig.config?.Volumes ?? {})
    } catch (err) {
      this.#names.delete(name)
      throw err
    }
    const dir = this.#d.store.dirOf(id)
    const imageManifest = await this.#d.images.manifestDescriptor(image.id).catch(() => undefined)
    const rec: ContainerRecord = {
      id,
      name,
      created: rfc3339Nano(Date.now()),
      path: argv[0]!,
      args: argv.slice(1),
      config,
      hostConfig,
      imageId: image.id,
      ...(imageManifest ? { imageManifest } : {}),
      topLayer: this.#d.images.topLayer(image.id),
      state: initialState(),
      restartCount: 0,
      logPath: join(dir, `${id}-json.log`),
      hostnamePath: join(dir, 'hostname'),
      hostsPath: join(dir, 'hosts'),
      resolvConfPath: join(dir, 'resolv.conf'),
      mounts,
      networks,
    }
    try {
      await mkdir(dir, { recursive: true, mode: 0o710 })
      await this.#d.rootfs.create(join(dir, 'rootfs'))
      const list = (k: string): string[] => stringList(hostConfig, k)
      await writeEtcFiles({ hostname: rec.hostnamePath, hosts: rec.hostsPath, resolvConf: rec.resolvConfPath }, config.Hostname, list('ExtraHosts'), dnsFor(hostConfig, this.#defaults))
      await this.#d.store.save(rec)
    } catch (err) {
      this.#names.delete(name)
      await rm(dir, { recursive: true, force: true })
      throw err
    }
    if (mayCopyUp(mounts)) {
      // A failure here is not the create's: the first start copies into a volume still empty.
      await this.withRootfs(rec.id, (merged) => copyUpAtCreate(mounts, merged, this.#d.volumes)).catch((err: unknown) =>
        this.#d.log.warn('copy-up at create failed', { container: id, err: messageOf(err) }),
      )
    }
    this.#emit(rec, 'create')
    return { Id: id, Warnings: [] }
  }

  async #resolveMounts(body: ContainerCreateBody, hc: ContainerRecord['hostConfig'], imageVolumes: Record<string, object>): Promise<MountPoint[]> {
    const from = ((hc['VolumesFrom'] as string[] | null | undefined) ?? []).map((spec) => {
      const [ref = '', mode = ''] = spec.split(':')
      if (mode && mode !== 'ro' && mode !== 'rw') throw invalid(`invalid mode for volumes-from: ${mode}`)
      return { mounts: this.get(ref).mounts ?? [], mode }
    })
    return resolveMounts(
      {
        binds: hc.Binds ?? [],
        mounts: (hc['Mounts'] as Array<Record<string, unknown>> | null | undefined) ?? [],
        tmpfs: (hc['Tmpfs'] as Record<string, string> | null | undefined) ?? {},
        volumes: [...Object.keys(body.Volumes ?? {}), ...Object.keys(imageVolumes)],
        from,
        images: (ref) => {
          const image = this.#d.images.resolve(ref)
          return { id: image.id, top: this.#d.images.topLayer(image.id) }
        },
      },
      this.#d.volumes,
    )
  }

  #claimName(requested: string | undefined, id: string): string {
    if (requested) {
      validateName(requested)
      const name = requested.startsWith('/') ? requested : `/${requested}`
      const owner = this.#names.get(name)
      if (owner) {
        throw conflict(
          `Conflict. The container name "${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`,
        )
      }
      this.#names.set(name, id)
      return name
    }
    for (let attempt = 0; ; attempt++) {
      const name = `/${randomName(attempt)}`
      if (!this.#names.has(name)) {
        this.#names.set(name, id)
        return name
      }
    }
  }

  // ---- start

  /** Starts a container; returns false when it was already running (HTTP 304). */
  async start(ref: string, opts: { byPolicy?: boolean; onlyIfRestarting?: boolean } = {}): Promise<boolean> {
    const rec = this.get(ref)
    return this.#lock.run(rec.id, async () => {
      if (rec.state.Running) return false
      // A policy restart that lost the race against stop or rm does nothing.
      if (opts.onlyIfRestarting && (!rec.state.Restarting || rec.manuallyStopped)) return false
      if (!opts.byPolicy) {
        this.#restarts.cancel(rec)
        this.#restarts.reset(rec.id)
        rec.manuallyStopped = false
      }
      if (this.#removing.has(rec.id)) throw conflict(`container ${rec.id} is marked for removal and cannot be started`)
      try {
        await this.#startLocked(rec)
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err)
        rec.state.Error = message
        rec.state.ExitCode = isNotFoundMessage(message) ? 127 : /permission denied/i.test(message) ? 126 : 128
        await this.#cleanupRun(rec)
        await this.#d.store.save(rec)
        if (rec.hostConfig.AutoRemove) void this.#autoRemove(rec)
        if (err instanceof CaisError) throw err
        throw new CaisError('invalid', `failed to create task for container: ${message}: unknown`, { cause: err })
      }
      return true
    })
  }

  async #startLocked(rec: ContainerRecord): Promise<void> {
    await this.#d.checkLogTarget?.(rec)
    const runtime = runtimeBinaryOf(rec.hostConfig['Runtime'] as string | undefined, this.#runtimes)
    const t0 = performance.now()
    this.#released.delete(rec.id)
    const rootfsDir = this.#rootfsDir(rec.id)
    const merged = await this.#d.rootfs.mount(rootfsDir, rec.topLayer)
    const t1 = performance.now()
    const bundle = this.#bundle(rec.id)
    const network = await this.#networking.start(rec)
    const tNet = performance.now()
    const linkEnv = await this.#networking.startLinks(rec)
    const spec = await runSpec(rec, merged, network, {
      volumes: this.#d.volumes,
      initBinary: this.#d.initBinary,
      lookup: (ref) => this.get(ref),
      ipv6: this.#networking.hasIpv6(rec),
      linkEnv,
      noNewPrivileges: noNewPrivileges(rec.hostConfig, this.#defaults),
      seccompProfile: this.#defaults.seccompProfile,
      mountImage: (m, index) => this.#d.rootfs.mountImage(rootfsDir, index, m.imageTop ?? null),
    })
    await Runtime.writeBundle(bundle, spec)
    const t2 = performance.now()
    const { pid } = await this.#d.runtime.create({
      id: rec.id,
      name: rec.name.slice(1),
      bundle,
      logPath: rec.logPath,
      logSizeMax: conmonLogSizeMax(rec.hostConfig.LogConfig),
      runtime,
      stdin: rec.config.OpenStdin,
      // As Docker: a client leaving closes stdin only for a one-shot, non-TTY attach (`run -i`).
      keepStdinOpen: !rec.config.StdinOnce || rec.config.Tty,
      terminal: rec.config.Tty,
      ownDev: ownsDev(spec),
    })
    const t3 = performance.now()
    this.#signals.emit('starting', rec.id)
    await this.#d.runtime.start(rec.id)
    const t4 = performance.now()
    rec.state = {
      ...rec.state,
      Status: 'running',
      Running: true,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: pid,
      ExitCode: 0,
      Error: '',
      StartedAt: rfc3339Nano(Date.now()),
    }
    await this.#d.store.save(rec)
    this.#emit(rec, 'start')
    this.#signals.emit(`start:${rec.id}`)
    this.#d.log.debug('container started', {
      container: rec.id,
      mountMs: +(t1 - t0).toFixed(1),
      networkMs: +(tNet - t1).toFixed(1),
      specMs: +(t2 - tNet).toFixed(1),
      createMs: +(t3 - t2).toFixed(1),
      startMs: +(t4 - t3).toFixed(1),
      totalMs: +(performance.now() - t0).toFixed(1),
    })
  }

  #bundle(id: string): string {
    return join(this.#d.runtimeDir, id)
  }

  bundlePath(id: string): string {
    return this.#bundle(id)
  }

  /** The container's rootfs directory: `upper`, `work` and the overlay mount point `merged`. */
  #rootfsDir(id: string): string {
    return join(this.#d.store.dirOf(id), 'rootfs')
  }

  rootfsPath(id: string): string {
    return join(this.#rootfsDir(id), 'merged')
  }

  recordExec(containerId: string, execId: string): void {
    this.#execIds.set(containerId, [...(this.#execIds.get(containerId) ?? []), execId])
  }

  /** Drops an exec from the container's ExecIDs (a finished health probe, which Docker does not list). */
  forgetExec(containerId: string, execId: string): void {
    const ids = this.#execIds.get(containerId)
    if (ids) this.#execIds.set(containerId, ids.filter((x) => x !== execId))
  }

  eventAttributes(id: string): Record<string, string> {
    return attributesOf(this.get(id))
  }

  // ---- exit

  async #onExit(id: string): Promise<void> {
    const rec = this.#d.store.records.get(id)
    if (!rec) {
      await this.#d.runtime.forgetExit(id)
      return
    }
    // fs.watch may report one exit file several times: only the first call finds the container running.
    const exited = await this.#lock.run(id, async () => {
      if (!rec.state.Running) return false
      const code = this.#d.runtime.exitCode(id)
      if (code === undefined) return false
      await this.#markExited(rec, code, { reaped: true })
      return true
    })
    if (exited) await this.#afterExit(rec)
  }

  /** What follows a recorded exit: removal for `--rm`, otherwise the restart policy. */
  async #afterExit(rec: ContainerRecord): Promise<void> {
    if (rec.hostConfig.AutoRemove) await this.#autoRemove(rec)
    else this.#restarts.schedule(rec)
  }

  /**
   * Records an exit and releases what the run held. `reaped`: conmon has reported the exit, so the process is
   * known to be gone.
   */
  async #markExited(rec: ContainerRecord, code: number, exit: { error?: string; reaped?: boolean } = {}): Promise<void> {
    // Read before the cleanup removes the cgroup: the kernel counts the OOM kills there.
    const oomKilled = this.#cgroups.oomKills(`cais/${rec.id}`) > 0
    rec.state = {
      ...rec.state,
      OOMKilled: oomKilled,
      Status: 'exited',
      Running: false,
      Paused: false,
      Restarting: false,
      Pid: 0,
      ExitCode: code,
      Error: exit.error ?? '',
      FinishedAt: rfc3339Nano(Date.now()),
    }
    const t0 = performance.now()
    // A container being removed (or removed at its exit, --rm) is deleted from the store next: its exited state
    // need not reach the disk, and its exit file can go beside the cleanup. Should the removal not happen, the next
    // start finds no process and records the exit. Any other keeps its exit file until its state is saved.
    const deletedNext = this.#removing.has(rec.id) || rec.hostConfig.AutoRemove
    const reaped = exit.reaped === true
    // What a client could notice (addresses, volumes, the mounts) goes before the removal answers; crun's state after.
    const keepRuntimeState = this.#removing.has(rec.id)
    if (keepRuntimeState) this.#runtimeStateLeft.set(rec.id, { reaped })
    await Promise.all([this.#cleanupRun(rec, { reaped, keepRuntimeState }), deletedNext ? this.#d.runtime.forgetExit(rec.id) : undefined])
    const t1 = performance.now()
    if (!deletedNext) {
      try {
        await this.#d.store.save(rec)
        await this.#d.runtime.forgetExit(rec.id)
      } catch (err) {
        // A full disk: the exit holds in memory, and conmon's exit file (under the exec root) is kept for the next
        // start to record it. Waiters and events are told all the same.
        this.#d.log.warn('container exit not saved; its exit file is kept for the next start', { container: rec.id, err: messageOf(err) })
      }
    }
    this.#d.log.debug('container exited', { container: rec.id, cleanupMs: +(t1 - t0).toFixed(1), saveMs: +(performance.now() - t1).toFixed(1) })
    const started = Date.parse(rec.state.StartedAt)
    this.#execIds.delete(rec.id)
    // Docker reports an OOM kill as an event of its own, before the exit.
    if (oomKilled) this.#emit(rec, 'oom')
    this.#emit(rec, 'die', { exitCode: String(code), execDuration: String(Math.max(0, Math.round((Date.now() - started) / 1000))) })
    this.#signals.emit(`exit:${rec.id}`, code)
  }

  /**
   * Releases what a run held: crun's state (unless `keepRuntimeState`), the network, the mounts, the bundle.
   * `reaped` as for #markExited.
   */
  async #cleanupRun(rec: ContainerRecord, opts: { reaped?: boolean; keepRuntimeState?: boolean } = {}): Promise<void> {
    // Once the process is gone these are independent of each other.
    const volumes = (rec.mounts ?? []).filter((m) => m.type === 'volume')
    await Promise.all([
      opts.keepRuntimeState ? undefined : this.#d.runtime.delete(rec.id, { force: true, reaped: opts.reaped === true }).catch(() => {}),
      NetworkService.isBridgeMode(rec.hostConfig.NetworkMode)
        ? this.#d.networks.detach(rec.id).catch((err: unknown) => this.#d.log.warn('network teardown failed', { container: rec.id, err }))
        : undefined,
      ...volumes.map((m) => {
        const stillUsed = this.all.some((c) => c.id !== rec.id && c.state.Running && (c.mounts ?? []).some((x) => x.type === 'volume' && x.source === m.source))
        return this.#d.volumes.unmount(m.source, rec.id, stillUsed).catch(() => {})
      }),
      this.#d.rootfs.unmount(this.#rootfsDir(rec.id)).catch((err: unknown) => this.#d.log.warn('unmount failed', { container: rec.id, err })),
      this.#d.rootfs.unmountImages(this.#rootfsDir(rec.id)).catch((err: unknown) => this.#d.log.warn('unmount of an image mount failed', { container: rec.id, err })),
      // crun keeps its own copy of the config: its state does not need the bundle.
      this.#bundleRemoval.remove(this.#bundle(rec.id)),
    ])
    this.#released.add(rec.id)
  }

  async #autoRemove(rec: ContainerRecord): Promise<void> {
    await this.remove(rec.id, { force: true, volumes: true }).catch((err: unknown) => {
      if (!(err instanceof CaisError && err.kind === 'not-found')) this.#d.log.warn('auto-remove failed', { container: rec.id, err })
    })
  }

  /** Resolves with the exit code at the container's next exit. */
  /**
   * Calls `listener` with a container's ID when its process exists and is about to run (crun create done, start
   * next): what must watch its output from the first byte starts there. Returns the unsubscribe.
   */
  onStarting(listener: (id: string) => void): () => void {
    this.#signals.on('starting', listener)
    return () => this.#signals.off('starting', listener)
  }

  nextExit(id: string): Promise<number> {
    return new Promise((resolve) => this.#signals.once(`exit:${id}`, resolve))
  }

  /**
   * Resolves once the container stops running or is removed (for `logs -f`). One that does not run, created or
   * exited, has nothing to follow: as Docker's, the follow ends with what is there.
   */
  stopped(id: string): Promise<void> {
    const rec = this.#d.store.records.get(id)
    if (!rec || (!rec.state.Running && !rec.state.Restarting)) return Promise.resolve()
    return this.nextStop(id)
  }

  /** Resolves at the next exit or removal, whatever the state now (attach before start). */
  nextStop(id: string): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#signals.off(`exit:${id}`, done)
        this.#signals.off(`removed:${id}`, done)
        resolve()
      }
      this.#signals.once(`exit:${id}`, done)
      this.#signals.once(`removed:${id}`, done)
    })
  }

  // ---- wait

  /**
   * `POST /containers/{id}/wait`. Validates at once (so the API can answer 404 before flushing) and returns
   * a promise of the result.
   */
  wait(ref: string, condition: WaitCondition, signal?: AbortSignal): Promise<WaitResponse> {
    const rec = this.get(ref)
    const id = rec.id
    const result = (): WaitResponse => ({
      StatusCode: rec.state.ExitCode,
      Error: rec.state.Error ? { Message: rec.state.Error } : null,
    })
    if (condition === 'not-running' && !rec.state.Running) return Promise.resolve(result())
    return new Promise((resolve, reject) => {
      const event = condition === 'removed' ? `removed:${id}` : `exit:${id}`
      const done = (): void => {
        signal?.removeEventListener('abort', abort)
        resolve(result())
      }
      const abort = (): void => {
        this.#signals.off(event, done)
        reject(new Error('wait cancelled'))
      }
      this.#signals.once(event, done)
      signal?.addEventListener('abort', abort)
    })
  }

  // ---- stop, kill, restart

  /** Stops a container; returns false when it was not running (HTTP 304). */
  async stop(ref: string, opts: { timeoutSec?: number | undefined; signal?: string | undefined } = {}): Promise<boolean> {
    const rec = this.get(ref)
    // Even a stop that finds nothing running keeps the restart policy from starting the container again.
    rec.manuallyStopped = true
    if (this.#restarts.cancel(rec)) {
      await this.#d.store.save(rec)
      this.#emit(rec, 'stop')
      return true
    }
    if (!rec.state.Running) {
      await this.#d.store.save(rec)
      return false
    }
    const signal = opts.signal || rec.config.StopSignal || 'SIGTERM'
    const timeout = opts.timeoutSec ?? rec.config.StopTimeout ?? defaultStopTimeout
    const exited = this.nextExit(rec.id)
    await this.#sendSignal(rec, signal)
    const inTime = timeout < 0 ? await exited.then(() => true) : await Promise.race([exited.then(() => true), sleep(timeout * 1000).then(() => false)])
    if (!inTime && rec.state.Running) {
      await this.#sendSignal(rec, 'SIGKILL')
      await Promise.race([exited, sleep(10_000)])
    }
    this.#emit(rec, 'stop')
    return true
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.get(ref)
    if (!rec.state.Running) throw conflict(`Cannot kill container: ${ref}: container ${rec.id} is not running`)
    const num = signalNumber(signal)
    if (num === 9 || num === signalNumber(rec.config.StopSignal || 'SIGTERM')) rec.manuallyStopped = true
    if (num !== 9) return this.#sendSignal(rec, signal)
    // A SIGKILL is answered once the exit is recorded, as Docker's: an inspect or rm right after, on the same
    // connection, sees the container stopped with 137.
    const exited = this.nextExit(rec.id)
    await this.#sendSignal(rec, signal)
    await Promise.race([exited, sleep(10_000)])
  }

  async #sendSignal(rec: ContainerRecord, signal: string): Promise<void> {
    const num = signalNumber(signal)
    if (num === undefined) throw invalid(`Invalid signal: ${signal}`)
    this.#emit(rec, 'kill', { signal: String(num) })
    try {
      // SIGKILL of a running, unfrozen container goes straight to its init (no crun spawn); the rest through crun.
      const direct = num === 9 && !rec.state.Paused && this.#d.runtime.killInit(rec.id, rec.state.Pid, num)
      if (!direct) await this.#d.runtime.kill(rec.id, num)
      // A frozen process gets the signal once thawed: stop, kill and rm work on paused containers, as Docker's.
      if (rec.state.Paused && (num === 9 || num === 15)) {
        await this.#d.runtime.resume(rec.id)
        rec.state = { ...rec.state, Paused: false, Status: 'running' }
      }
    } catch (err) {
      if (err instanceof RuntimeError && rec.state.Running) throw new CaisError('conflict', `Cannot kill container: ${rec.id}: ${err.message}`)
    }
  }

  /** `forCommit`: the pause is a commit's, which a daemon that dies before the unpause undoes at its next start. */
  async pause(ref: string, opts: { forCommit?: boolean } = {}): Promise<void> {
    const rec = this.get(ref)
    await this.#lock.run(rec.id, async () => {
      if (!rec.state.Running) throw conflict(`Container ${rec.id} is not running`)
      if (rec.state.Paused) throw conflict(`Container ${rec.id} is already paused`)
      await this.#d.runtime.pause(rec.id)
      rec.state = { ...rec.state, Paused: true, Status: 'paused' }
      if (opts.forCommit) rec.pausedForCommit = true
      await this.#d.store.save(rec)
    })
    this.#emit(rec, 'pause')
  }

  async unpause(ref: string): Promise<void> {
    const rec = this.get(ref)
    await this.#lock.run(rec.id, async () => {
      if (!rec.state.Paused) throw conflict(`Container ${rec.id} is not paused`)
      await this.#d.runtime.resume(rec.id)
      rec.state = { ...rec.state, Paused: false, Status: 'running' }
      delete rec.pausedForCommit
      await this.#d.store.save(rec)
    })
    this.#emit(rec, 'unpause')
  }

  async rename(ref: string, newName: string): Promise<void> {
    const rec = this.get(ref)
    if (!newName) throw invalid('Neither old nor new names may be empty')
    validateName(newName)
    const name = newName.startsWith('/') ? newName : `/${newName}`
    if (name === rec.name) throw invalid(`Renaming a container with the same name as its current name`)
    const owner = this.#names.get(name)
    if (owner) throw conflict(`Error when allocating new name: Conflict. The container name "${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`)
    const oldName = rec.name
    this.#names.set(name, rec.id)
    this.#names.delete(oldName)
    rec.name = name
    await this.#d.store.save(rec)
    this.#emit(rec, 'rename', { oldName })
  }

  async restart(ref: string, opts: { timeoutSec?: number | undefined; signal?: string | undefined } = {}): Promise<void> {
    const rec = this.get(ref)
    await this.stop(rec.id, opts)
    await this.start(rec.id)
    rec.restartCount = 0
    this.#emit(rec, 'restart')
  }

  // ---- remove

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const rec = this.get(ref)
    if (rec.state.Running && !opts.force) {
      throw conflict(`cannot remove container "${rec.name}": container is running: stop the container before removing or force remove`)
    }
    // Between two runs of its restart policy a container is still in use, as Docker's sees it.
    if (rec.state.Restarting && !opts.force) {
      throw conflict(`You cannot remove a restarting container ${rec.id}. Stop the container before attempting removal or force remove`)
    }
    if (this.#removing.has(rec.id)) throw conflict(`removal of container ${rec.id} is already in progress`)
    this.#removing.add(rec.id)
    this.#restarts.cancel(rec)
    rec.manuallyStopped = true
    try {
      const t0 = performance.now()
      if (rec.state.Running) {
        const exited = this.nextExit(rec.id)
        await this.#sendSignal(rec, 'SIGKILL')
        // The dying process does not use the host's mount of its rootfs (its mount namespace holds a private
        // copy), so that one can go while the kernel tears the container down.
        const unmounted = this.#d.rootfs.unmount(this.#rootfsDir(rec.id)).catch(() => {})
        await Promise.race([exited, sleep(10_000)])
        await unmounted
      }
      const t1 = performance.now()
      let t2 = t1
      await this.#lock.run(rec.id, async () => {
        if (rec.state.Running) await this.#markExited(rec, 137)
        if (!this.#released.has(rec.id)) await this.#cleanupRun(rec)
        t2 = performance.now()
        // The store unmounts what is still mounted in the directory (a `cp` of a stopped container) before removing it.
        await Promise.all([this.#d.store.delete(rec.id), this.#d.runtime.forgetExit(rec.id)])
        this.#d.rootfs.forget(this.#rootfsDir(rec.id))
      })
      this.#d.log.debug('container removed', {
        container: rec.id,
        killMs: +(t1 - t0).toFixed(1),
        cleanupMs: +(t2 - t1).toFixed(1),
        deleteMs: +(performance.now() - t2).toFixed(1),
      })
      if (this.#names.get(rec.name) === rec.id) this.#names.delete(rec.name)
      this.#restarts.reset(rec.id)
      this.#released.delete(rec.id)
      if (opts.volumes) {
        // `rm -v` and `--rm` take the container's anonymous volumes with it, never named ones.
        for (const m of rec.mounts ?? []) {
          if (m.type === 'volume' && this.#d.volumes.records.get(m.source)?.anonymous && this.containersUsingVolume(m.source).length === 0) {
            await this.#d.volumes.remove(m.source).catch((err: unknown) => this.#d.log.warn('volume removal failed', { volume: m.source, err }))
          }
        }
      }
      this.#emit(rec, 'destroy')
      this.#signals.emit(`removed:${rec.id}`)
      // Only an image removed while this container used it leaves layers that nothing keeps now.
      if (!this.#d.images.has(rec.imageId)) await this.#d.images.gc()
    } finally {
      this.#removing.delete(rec.id)
      this.#releaseRuntimeStateLater(rec.id)
    }
  }

  /**
   * crun's state of a container that exited while being removed, released once the removal has answered: its
   * rmdirs are synchronous (see Runtime), and nothing a client can see waits for them.
   */
  #releaseRuntimeStateLater(id: string): void {
    const left = this.#runtimeStateLeft.get(id)
    if (!left) return
    this.#runtimeStateLeft.delete(id)
    const release: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#d.runtime.delete(id, { force: true, reaped: left.reaped }))
      .catch((err: unknown) => this.#d.log.warn('releasing crun state failed', { container: id, err }))
      .finally(() => this.#lateReleases.delete(release))
    this.#lateReleases.add(release)
  }

  // ---- views

  inspect(ref: string): ContainerInspect {
    const rec = this.get(ref)
    return inspectView(rec, this.#viewDeps(rec))
  }

  #viewDeps(rec: ContainerRecord): ViewDeps {
    return { dir: this.#d.store.dirOf(rec.id), execIds: this.#execIds.get(rec.id) ?? [], volumes: this.#d.volumes, networks: this.#d.networks }
  }

  list(opts: { all?: boolean; limit?: number | undefined; filters: Filters }): ContainerSummary[] {
    const matches = containerFilter(opts.filters, {
      all: opts.all === true || (opts.limit ?? 0) > 0,
      imageIdOf: (ref) => this.#imageIdOf(ref),
      containerOf: (ref) => this.get(ref),
      portsOf: (r) => summaryPorts(r, this.#d.networks),
    })
    // Newest first; the times parsed once each, not twice per comparison.
    let recs = this.all
      .filter(matches)
      .map((r) => ({ r, t: Date.parse(r.created) }))
      .sort((a, b) => b.t - a.t || (b.r.created < a.r.created ? -1 : 1))
      .map((x) => x.r)
    if (opts.limit && opts.limit > 0) recs = recs.slice(0, opts.limit)
    const aliases = linkNames(this.all)
    return recs.map((r) => summaryView(r, this.#d, aliases.get(r.name)))
  }

  /**
   * What the container's writable layer takes on disk (SizeRw) and that with its image's layers (SizeRootFs), as
   * `ps -s`, `inspect -s` and `system df` show them.
   */
  async sizes(ref: string): Promise<{ SizeRw: number; SizeRootFs: number }> {
    const rec = this.get(ref)
    const rw = await diskUsage(join(this.#rootfsDir(rec.id), 'upper'))
    let image = 0
    try {
      image = this.#d.images.size(rec.imageId)
    } catch {
      // the image is gone (removed with force): its layers count nothing here
    }
    return { SizeRw: rw, SizeRootFs: rw + image }
  }

  /** The image a reference names here; undefined when none (an `ancestor` filter on it matches nothing). */
  #imageIdOf(ref: string): string | undefined {
    try {
      return this.#d.images.resolve(ref).id
    } catch {
      return undefined
    }
  }

  logs(
    ref: string,
    opts: { follow: boolean; tail?: number | undefined; sinceNanos?: bigint | undefined; untilNanos?: bigint | undefined; times?: boolean; signal?: AbortSignal },
  ): { tty: boolean; entries: AsyncGenerator<LogEntry[]>; attributes: Record<string, string> } {
    const rec = this.get(ref)
    if (rec.hostConfig.LogConfig.Type === 'none') {
      throw invalid('configured logging driver does not support reading')
    }
    return {
      tty: rec.config.Tty,
      attributes: logAttributes(rec.hostConfig.LogConfig, rec.config.Labels, rec.config.Env),
      entries: readLogs(rec.logPath, { ...opts, stopped: opts.follow ? this.stopped(rec.id) : undefined }),
    }
  }

  /**
   * Output of the container from now until its next stop (attach); with `logs`, history first. "Now" is when the
   * promise resolves: the caller answers its client (which may then start the container) only after that.
   */
  async attachOutput(ref: string, opts: { logs: boolean; stream: boolean; signal?: AbortSignal }): Promise<{ tty: boolean; entries: AsyncGenerator<LogEntry[]> }> {
    const rec = this.get(ref)
    const stopped = this.nextStop(rec.id)
    const from = opts.logs ? undefined : await logEnd(rec.logPath)
    this.#emit(rec, 'attach')
    return {
      tty: rec.config.Tty,
      entries: readLogs(rec.logPath, {
        follow: opts.stream,
        from,
        times: false,
        partials: true,
        stopped,
        signal: opts.signal,
      }),
    }
  }

  /**
   * The container's stdin for an attach, once the container runs (an attach usually comes before the start).
   * Undefined for a container created without OpenStdin (`-i`), whose stdin is /dev/null.
   */
  async openStdin(ref: string, signal?: AbortSignal): Promise<{ input: Writable; closed: Promise<void> } | undefined> {
    const rec = this.get(ref)
    return containerStdin(rec, this.#bundle(rec.id), () => this.#nextStart(rec.id, signal))
  }

  /** `docker resize` / the CLI's terminal size: the pseudo-terminal of a running TTY container. */
  resize(ref: string, height: number, width: number): Promise<void> {
    const rec = this.get(ref)
    return resizeContainerTerminal(rec, this.#bundle(rec.id), height, width, this.#d.log)
  }

  /** Resolves at the container's next start; rejects when `signal` aborts first. */
  #nextStart(id: string, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onStart = (): void => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => {
        this.#signals.off(`start:${id}`, onStart)
        reject(new Error('attach ended before the container started'))
      }
      this.#signals.once(`start:${id}`, onStart)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }


  /** `docker diff`: what the container changed in its writable layer. */
  async changes(ref: string): Promise<Change[]> {
    const { upper, lowers } = this.layersOf(ref)
    return containerChanges(upper, lowers)
  }

  /**
   * `docker update`: new resource limits (applied at once to a running container, through crun) and restart
   * policy, kept in the container's HostConfig.
   */
  async update(ref: string, body: Record<string, unknown>): Promise<{ Warnings: string[] }> {
    const rec = this.get(ref)
    return this.#lock.run(rec.id, async () => {
      await updateContainer(rec, body, { runtime: this.#d.runtime, bundle: this.#bundle(rec.id), save: (r) => this.#d.store.save(r) })
      this.#emit(rec, 'update')
      return { Warnings: [] }
    })
  }

  /** One resource sample of a container (empty when it is not running); `previous` gives the CPU baseline. */
  stats(ref: string, previous?: StatsSample): Promise<StatsSample> {
    return sampleStats(this.get(ref), this.#cgroups, previous)
  }

  /** The HEALTHCHECK of the container's image, if any. */
  imageHealthcheck(id: string): HealthConfig | undefined {
    const rec = this.get(id)
    return this.#d.images.config(rec.imageId).config?.Healthcheck as HealthConfig | undefined
  }

  /** Records a health check result; a change of status is a `health_status: …` event, as Docker's. */
  async setHealth(id: string, health: NonNullable<ContainerRecord['state']['Health']>): Promise<void> {
    const rec = this.get(id)
    const before = rec.state.Health?.Status
    rec.state = { ...rec.state, Health: health }
    await this.#d.store.save(rec)
    if (before !== health.Status && health.Status !== 'starting') this.#emit(rec, `health_status: ${health.Status}`)
  }

  /** `docker network connect`: live for a running container, recorded for its next start otherwise. */
  connectNetwork(ref: string, network: string, request: EndpointRequest): Promise<void> {
    return this.#networking.connect(ref, network, request)
  }

  /** `docker network disconnect`. */
  disconnectNetwork(ref: string, network: string): Promise<void> {
    return this.#networking.disconnect(ref, network)
  }

  /** `docker rm --link /parent/alias`. */
  removeLink(parentRef: string, alias: string): Promise<void> {
    return this.#networking.removeLink(parentRef, alias)
  }

  /** The container's filesystem as `docker cp` sees it (root and mounts), for the duration of `fn`. */
  async withFilesystem<T>(ref: string, fn: (fs: ContainerFs) => Promise<T>): Promise<T> {
    const rec = this.get(ref)
    const mounts = rec.mounts ?? []
    return this.withRootfs(rec.id, async (root) => {
      // Image mounts as the container has them (a stopped container's mounted for the call, as its root is).
      const dir = this.#rootfsDir(rec.id)
      const imageFiles = new Map<MountPoint, string>()
      for (const [m, index] of imageMountIndexes(mounts)) imageFiles.set(m, await this.#d.rootfs.mountImage(dir, index, m.imageTop ?? null))
      try {
        return await fn({ root, mounts, volumes: this.#d.volumes, readOnlyRoot: rec.hostConfig.ReadonlyRootfs === true, imageFiles })
      } finally {
        if (imageFiles.size > 0 && !rec.state.Running) await this.#d.rootfs.unmountImages(dir).catch(() => {})
      }
    })
  }

  /** The container's writable layer (an overlay upper dir) and the image layer dirs below it, top first. */
  layersOf(ref: string): { rec: ContainerRecord; upper: string; lowers: string[] } {
    const rec = this.get(ref)
    const lowers = this.#d.rootfs.lowerDirs(rec.topLayer).map((l) => join(this.#d.rootfs.snapshotsDir, l))
    return { rec, upper: join(this.#rootfsDir(rec.id), 'upper'), lowers }
  }

  /**
   * Runs `fn` on the container's merged root filesystem: the running container's own mount, or, for a stopped
   * one, a mount made for the call and removed after it. The container cannot start meanwhile.
   */
  async withRootfs<T>(ref: string, fn: (merged: string) => Promise<T>): Promise<T> {
    const rec = this.get(ref)
    return this.#lock.run(rec.id, async () => {
      const dir = this.#rootfsDir(rec.id)
      const wasRunning = rec.state.Running
      const merged = await this.#d.rootfs.mount(dir, rec.topLayer)
      try {
        return await fn(merged)
      } finally {
        if (!wasRunning && !rec.state.Running) await this.#d.rootfs.unmount(dir).catch(() => {})
      }
    })
  }

  /** `docker top`: the host's `ps` output, limited to the container's processes. */
  async top(ref: string, psArgs = '-ef'): Promise<{ Titles: string[]; Processes: string[][] }> {
    const rec = this.get(ref)
    if (!rec.state.Running) throw conflict(`container ${rec.id} is not running`)
    return processesOf(rec.id, psArgs)
  }

  /** `docker container prune`: removes stopped containers matching `until` and `label` filters. */
  async prune(filters: Filters): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const until = filters.get('until')?.map((u) => parseTimestamp(u))
    if (until?.some((u) => u === undefined)) throw invalid(`invalid filter 'until'`)
    const deleted: string[] = []
    let space = 0
    for (const rec of this.all) {
      if (rec.state.Running || rec.state.Restarting) continue
      if (until && !until.every((u) => Date.parse(rec.created) < u!)) continue
      if (!matchLabels(filters.get('label'), rec.config.Labels)) continue
      const notLabels = filters.get('label!') ?? []
      if (notLabels.some((l) => matchLabels([l], rec.config.Labels))) continue
      const { SizeRw } = await this.sizes(rec.id)
      await this.remove(rec.id).catch(() => {})
      if (!this.#d.store.records.has(rec.id)) {
        deleted.push(rec.id)
        space += SizeRw
      }
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: space }
  }

  /**
   * Each container against its image, its image's top layer and its rootfs directory, and the records found
   * broken at start; and against what runs: a running container has its conmon and crun calls it running (or
   * paused, as the record says), one that does not run has neither, nor its root mounted. `repair` sets a broken
   * container's whole directory aside (its writable layer and logs too); what runs is the daemon's to reconcile.
   */
  async check(repair: { root: string } | undefined): Promise<{ checked: number; problems: StoreProblem[] }> {
    const problems = await brokenProblems(this.#d.store.broken, repair, (r) => dirname(r.path))
    // One read of the mount table for all; a container found mounted is looked at again under its lock.
    const mounted = this.#reconciled ? await mountedAmong(this.all.filter((r) => !r.state.Running).map((r) => this.rootfsPath(r.id))) : new Set<string>()
    for (const rec of this.all) {
      const id = rec.id
      if (!this.#d.images.has(rec.imageId)) problems.push({ object: 'container', id, problem: `its image ${rec.imageId} is missing` })
      if (rec.topLayer && !this.#d.rootfs.hasLayer(rec.topLayer)) problems.push({ object: 'container', id, problem: `its image's top layer ${rec.topLayer} is missing` })
      if (!(await stat(join(this.#rootfsDir(id), 'upper')).then((s) => s.isDirectory(), () => false))) problems.push({ object: 'container', id, problem: 'its writable layer is missing' })
      // Offline (`caisd --check-store`), a container that died while no daemon ran is news for the next start,
      // not a fault of the store: what runs is compared only once this daemon has reconciled its records.
      if (this.#reconciled) problems.push(...(await this.#lock.run(id, () => this.#checkAgainstRuntime(rec, mounted.has(this.rootfsPath(id))))))
    }
    return { checked: this.all.length, problems }
  }

  /** Under the container's lock, so that no start, stop or exit of it is half-way through. */
  async #checkAgainstRuntime(rec: ContainerRecord, maybeMounted: boolean): Promise<StoreProblem[]> {
    const id = rec.id
    const problems: StoreProblem[] = []
    if (!this.#d.store.records.has(id)) return problems
    const [crun, conmon, mounted] = await Promise.all([
      this.#d.runtime.status(id),
      this.#d.runtime.conmonPid(this.#bundle(id), id),
      !rec.state.Running && maybeMounted ? mountedAmong([this.rootfsPath(id)]) : new Set<string>(),
    ])
    // An exit conmon has written and the watcher not yet read: the record is about to say so.
    if (rec.state.Running && this.#d.runtime.exitCode(id) !== undefined) return problems
    if (rec.state.Running) {
      if (!conmon) problems.push({ object: 'container', id, problem: 'it is running by its record, but its conmon is gone' })
      // A commit pauses a container without saying so in its state.
      const expected = rec.state.Paused ? 'paused' : 'running'
      if (crun !== expected && !(rec.pausedForCommit && crun === 'paused')) problems.push({ object: 'container', id, problem: `it is ${expected} by its record, but crun says ${crun ?? 'it has no such container'}` })
    } else {
      if (conmon) problems.push({ object: 'container', id, problem: `it is ${rec.state.Status} by its record, but its conmon ${conmon} is alive` })
      if (crun === 'running' || crun === 'paused') problems.push({ object: 'container', id, problem: `it is ${rec.state.Status} by its record, but crun says ${crun}` })
      if (mounted.has(this.rootfsPath(id))) problems.push({ object: 'container', id, problem: `it is ${rec.state.Status} by its record, but its root is still mounted` })
    }
    return problems
  }

  counts(): { running: number; paused: number; stopped: number } {
    let running = 0
    let paused = 0
    let stopped = 0
    for (const r of this.all) {
      if (r.state.Paused) paused++
      else if (r.state.Running) running++
      else stopped++
    }
    return { running, paused, stopped }
  }

  #emit(rec: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.#d.events.emit('container', action, rec.id, { ...attributesOf(rec), ...extra })
  }
}


/** Accepts `SIGTERM`, `TERM`, `15`. */
export function signalNumber(signal: string): number | undefined {
  if (/^\d+$/.test(signal)) {
    const n = Number(signal)
    return n > 0 && n < 65 ? n : undefined
  }
  const name = signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`
  return (osConstants.signals as Record<string, number>)[name]
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref())
