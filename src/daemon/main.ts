import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ApiServer } from '../api/server.ts'
import { Routes } from '../api/router.ts'
import { containerRoutes } from '../api/docker/containers.ts'
import { imageRoutes } from '../api/docker/images.ts'
import { distributionRoutes } from '../api/docker/distribution.ts'
import { BlobSources } from '../distribution/blob-sources.ts'
import { RegistryHosts } from '../distribution/hosts.ts'
import { Registries } from '../distribution/registries.ts'
import { swarmRoutes } from '../api/docker/swarm.ts'
import { buildRoutes } from '../api/docker/build.ts'
import { BuildService } from '../build/service.ts'
import { pullImage } from '../distribution/pull.ts'
import { parsePlatform } from '../lib/platform.ts'
import { familiarString, parseReference, withDefaultTag } from '../images/reference.ts'
import { systemRoutes } from '../api/docker/system.ts'
import { ContentStore } from '../content/store.ts'
import { ContainerService } from '../containers/service.ts'
import { ContainerStore } from '../containers/store.ts'
import { EventBus } from '../events/bus.ts'
import { ImageService } from '../images/service.ts'
import { ImageStore } from '../images/store.ts'
import { createLogger } from '../lib/log.ts'
import { Mounter } from '../lib/mounter.ts'
import { Runtime } from '../runtime/runtime.ts'
import { readOnlyCrun, releaseReadOnlyCrun } from '../runtime/crun-binary.ts'
import { LayerStore } from '../snapshots/layers.ts'
import { RootfsManager } from '../snapshots/rootfs.ts'
import { pathsFor } from '../store/paths.ts'
import { VolumeService } from '../volumes/service.ts'
import { NetworkService } from '../networks/service.ts'
import { NetworkStore } from '../networks/store.ts'
import { networkRoutes } from '../api/docker/networks.ts'
import { ExecService } from '../containers/exec.ts'
import { HealthMonitor } from '../containers/health.ts'
import { LogRotator } from '../containers/log-rotation.ts'
import { SyslogForwarder } from '../containers/syslog-forwarder.ts'
import { execRoutes } from '../api/docker/exec.ts'
import { volumeRoutes } from '../api/docker/volumes.ts'
// The dashboard (and the compose library its stacks use) is loaded only for --dashboard-listen: most daemons never
// serve it, and its modules would sit in every daemon's memory.
import type { DashboardServer } from '../dashboard/server.ts'
import { isLoopback, parseListen } from '../dashboard/security.ts'
import { invalid, messageOf } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { loadDaemonConfig } from './config-file.ts'
import { type DaemonConfig, usage } from './config.ts'
import { cgroupVersion, hostProblems, listenerWarnings } from './host-check.ts'
import { openListeners } from './listeners.ts'
import { claimPidFile, releasePidFile } from './pidfile.ts'
import { reloadOnHangup } from './reload.ts'
import { type StoreCheck, checkStore } from './store-check.ts'
import { describeStoreCheck, storeCheckStatus } from '../wire/store-check.ts'
import type { StoreCheckReport } from '../wire/types.ts'
import { engineVersion } from '../api/versions.ts'
import { collectWhenIdle, idleAfterMs } from '../lib/memory.ts'
import { keepPreloadToSelf } from './allocator.ts'

/**
 * `caisd --check-store`: the stores are loaded as a start loads them (which drops what a start drops: temp files of
 * cut writes, creates that never finished, images whose config or layers are gone, each then reported), nothing on
 * the host is touched (no network, container or listener), and the check's report is printed.
 */
async function checkStoreOffline(root: string, repair: boolean, parts: Record<string, StoreCheck>, stores: Array<{ init(): Promise<void> }>): Promise<number> {
  for (const s of stores) await s.init()
  const report = await checkStore(root, parts, repair)
  for (const line of describeStoreCheck(report, repair)) process.stdout.write(`${line}\n`)
  return storeCheckStatus(report)
}

async function main(): Promise<number> {
  keepPreloadToSelf()
  let config: DaemonConfig
  let configFile: string | undefined
  try {
    const loaded = loadDaemonConfig(process.argv.slice(2))
    if (loaded === 'help') {
      process.stdout.write(usage)
      return 0
    }
    if (loaded.validateOnly) {
      process.stdout.write('configuration OK\n')
      return 0
    }
    config = loaded.config
    configFile = loaded.file
  } catch (err) {
    process.stderr.write(`caisd: ${messageOf(err)}\nSee 'caisd --help'.\n`)
    return 125
  }
  const log = createLogger(config.logLevel, (line) => process.stderr.write(line))
  // A promise nobody awaited failing (a bug) must not take the engine down with every client's requests: it is
  // logged with its stack, loudly, and the daemon goes on (its containers run on regardless).
  process.on('unhandledRejection', (err) => log.error('unhandled rejection: a bug in caisd, which goes on', { err: err instanceof Error ? (err.stack ?? err.message) : String(err) }))
  const paths = pathsFor(config.root, config.execRoot)
  await mkdir(paths.root, { recursive: true, mode: 0o710 })
  await mkdir(paths.execRoot, { recursive: true, mode: 0o700 })
  try {
    await claimPidFile(paths.pidFile)
  } catch (err) {
    log.error(messageOf(err))
    process.stderr.write(`caisd: ${messageOf(err)}\n`)
    return 1
  }

  // dockerd's features (buildkit, containerd-snapshotter, …) are accepted, as dockerd accepts names it does not know.
  for (const [feature, on] of Object.entries(config.features)) log.warn('feature not implemented by caisd; ignored', { feature, on })
  const warnings = hostProblems()
  for (const w of warnings) log.error(w)
  warnings.push(...listenerWarnings(config.hosts, config.tls.enabled))
  if (!config.iptables) warnings.push('iptables is disabled: containers on bridge networks get no NAT to the outside, and published ports are served by the userland proxy alone')
  const daemonId = await readFile(join(paths.root, 'engine-id'), 'utf8').catch(async () => {
    const id = randomUUID()
    await writeFile(join(paths.root, 'engine-id'), id)
    return id
  })

  const events = new EventBus()
  const content = new ContentStore(paths.blobs, paths.ingest)
  const layers = new LayerStore(paths.layers, paths.snapshots)
  const imageStore = new ImageStore(paths.images, paths.references)
  // An offline store check runs no container: crun as it is, with no bind mount of it to make.
  const crun = config.checkStore === 'no' ? await readOnlyCrun(config.crun, paths.execRoot, log) : { path: config.crun, env: {} }
  const runtime = new Runtime({ conmon: config.conmon, crun: crun.path, crunEnv: crun.env, crunRoot: paths.crunRoot, exitsDir: paths.exits, log })
  const mounter = new Mounter()
  const containerStore = new ContainerStore(paths.containers, mounter)
  const rootfs = new RootfsManager(layers, mounter)
  // Images and containers refer to each other (rmi asks who uses an image): the image service reads
  // the container service lazily.
  const images: ImageService = new ImageService({ store: imageStore, content, layers, events, users: () => containers })
  // A volume's unmount may wait on a remote server (nfs): a process of its own each time, so that it never holds up
  // the helper's rootfs mounts queued behind it.
  const volumes: VolumeService = new VolumeService({ dir: paths.volumes, events, mounter: new Mounter({ helper: false }), users: () => containers })
  const networkStore = new NetworkStore(join(paths.root, 'networks'))
  // Only with a cluster store: the etcd client (gRPC) is loaded for it alone. Overlay networks share their state
  // through it.
  const membership = config.cluster
    ? new (await import('../cluster/membership.ts')).ClusterMembership(
        config.cluster,
        { ID: daemonId.trim(), Hostname: hostname(), Addr: config.cluster.advertise, Architecture: process.arch === 'x64' ? 'x86_64' : process.arch, EngineVersion: engineVersion },
        log,
      )
    : undefined
  const control = membership ? new (await import('../cluster/overlay-store.ts')).OverlayStore(membership, log) : undefined
  const networks = new NetworkService({
    store: networkStore,
    events,
    log,
    bridgeName: config.bridgeName,
    bridgeCidr: config.bip,
    addressPools: config.addressPools,
    chainPrefix: config.chainPrefix,
    iptables: config.iptables,
    ip6tables: config.ip6tables,
    bridgeIpv6: config.ipv6 ? { subnet: config.fixedCidrV6 } : undefined,
    userlandProxy: config.userlandProxy,
    control,
    mounter,
  })
  // Read at each create and start: a reload changes them in place.
  const runtimeChoices = { runtimes: config.runtimes, defaultRuntime: config.defaultRuntime }
  const containers: ContainerService = new ContainerService({
    store: containerStore,
    images,
    rootfs,
    runtime,
    events,
    log,
    volumes,
    networks,
    initBinary: '/usr/bin/catatonit',
    runtimeDir: paths.containerRuntime,
    defaults: config.containerDefaults,
    runtimes: runtimeChoices,
    checkLogTarget: (rec) => syslog.check(rec),
  })
  const syslog = new SyslogForwarder({ containers, events, log })

  // Read at each use: a reload of the config file changes them in place.
  const registryHostOptions = { insecureRegistries: config.insecureRegistries, registryMirrors: config.registryMirrors, certsDir: config.certsDir }
  const registries = new Registries(new RegistryHosts(registryHostOptions))
  const liveSettings = { labels: config.labels, debug: config.logLevel === 'debug', registry: registryHostOptions, runtimes: runtimeChoices }
  const blobSources = new BlobSources(paths.blobSources)

  const storeParts: Record<string, StoreCheck> = {
    Blobs: (r) => content.check(r),
    Layers: (r) => layers.check(r),
    Images: (r) => images.check(r),
    Containers: (r) => containers.check(r),
    Volumes: (r) => volumes.check(r),
    Networks: (r) => networks.check(r),
  }
  if (config.checkStore !== 'no') {
    try {
      return await checkStoreOffline(paths.root, config.checkStore === 'repair', storeParts, [content, layers, imageStore, containerStore, images, volumes, networkStore])
    } finally {
      await releasePidFile(paths.pidFile)
    }
  }

  const t0 = performance.now()
  await content.init()
  await layers.init()
  await imageStore.init()
  await containerStore.init()
  await runtime.init()
  await images.init()
  await volumes.init()
  await blobSources.init()
  await networks.init()
  // The shared state is read (and followed) before this node registers, so its first registration announces the
  // overlay endpoints of its running containers under its lease.
  if (control) await control.start(networks.overlayHandlers!)
  membership?.start()
  await containers.init()
  await containers.reconcile()
  log.info('store loaded', { ms: +(performance.now() - t0).toFixed(1), images: images.count, containers: containers.all.length })

  const distribution = {
    registries,
    content,
    layers,
    images,
    blobSources,
    events,
    maxConcurrentDownloads: config.maxConcurrentDownloads,
    maxConcurrentUploads: config.maxConcurrentUploads,
    onMirrorFailure: (mirror: string, err: unknown) => log.warn('registry mirror passed over', { mirror, err: messageOf(err) }),
    transferred: undefined as ((direction: 'pull' | 'push', bytes: number) => void) | undefined,
  }
  const builds = new BuildService({
    containers,
    images,
    content,
    layers,
    dir: paths.build,
    pull: async (ref, platform, send, signal) => {
      const parsed = withDefaultTag(parseReference(ref))
      const result = await pullImage({ ref: parsed, progress: (m) => send({ ...m }), signal, ...(platform ? { platform: parsePlatform(platform) } : {}) }, { ...distribution, concurrency: distribution.maxConcurrentDownloads })
      events.emit('image', 'pull', familiarString(parsed), { name: familiarString(parsed) })
      send({ status: `Status: ${result.updated ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarString(parsed)}` })
    },
  })
  await builds.init()

  const routes = new Routes()
  if (membership) (await import('../api/docker/cluster.ts')).clusterRoutes(routes, membership)
  const checkStoreNow = (repair: boolean): Promise<StoreCheckReport> => checkStore(paths.root, storeParts, repair)
  systemRoutes(routes, { containers, images, volumes, events, builds, checkStore: checkStoreNow, daemon: { id: daemonId.trim(), root: paths.root, cgroupVersion: cgroupVersion(), warnings, settings: liveSettings, configFile, logDriver: config.containerDefaults.logConfig.Type, cluster: config.cluster } })
  containerRoutes(routes, { containers })
  imageRoutes(routes, { images, content, layers, events, containers, distribution })
  distributionRoutes(routes, distribution)
  swarmRoutes(routes)
  buildRoutes(routes, { builds })
  volumeRoutes(routes, { volumes })
  networkRoutes(routes, { networks, containers })
  const execs = new ExecService({ containers, events, runtime, sessionsDir: join(paths.execRoot, 'execs') })
  execRoutes(routes, { execs })
  const health = new HealthMonitor({ containers, execs, events, log })
  health.start()
  const logRotation = new LogRotator({ containers, events, log })
  logRotation.start()
  syslog.start()
  // Only when asked for: prom-client and its event-loop monitor cost memory and CPU a daemon without them need not pay.
  const metrics = config.metricsAddr
    ? new (await import('../metrics/engine-metrics.ts')).EngineMetrics({ daemonId: daemonId.trim(), version: engineVersion, containerCounts: () => containers.counts(), imageCount: () => images.count, events })
    : undefined
  if (metrics) distribution.transferred = (direction, bytes) => metrics.transferred(direction, bytes)
  const api = new ApiServer(routes, log, {
    observe: (r) => {
      metrics?.observeRequest(r)
      collectWhenIdle(idleAfterMs(r.route))
    },
    auditPeers: config.auditPeers,
  })

  const shutdownSettings = { timeoutSeconds: config.shutdownTimeout }
  const socketPaths: string[] = []
  // What a stop undoes, at a signal or when a listener cannot open (a port in use): containers keep running.
  const shutdown = async (): Promise<void> => {
    await api.close(shutdownSettings.timeoutSeconds * 1000)
    health.close()
    logRotation.close()
    syslog.close()
    containers.close()
    await containerStore.settled()
    await containers.settled()
    await runtime.settled()
    networks.close()
    control?.close()
    await membership?.close()
    runtime.close()
    mounter.close()
    if (crun.path !== config.crun) await releaseReadOnlyCrun(crun.path).catch(() => {})
    for (const s of socketPaths) await rm(s, { force: true })
    await releasePidFile(paths.pidFile)
  }
  try {
    socketPaths.push(...(await openListeners(api, config, log)).socketPaths)
  } catch (err) {
    log.error('cannot listen', { err })
    await shutdown()
    throw err
  }

  let metricsServer: Server | undefined
  if (metrics) {
    try {
      const { serveMetrics } = await import('../metrics/server.ts')
      const served = await serveMetrics(config.metricsAddr!, metrics.registry)
      metricsServer = served.server
      log.info('metrics listening', { url: served.url })
    } catch (err) {
      log.error('cannot serve metrics', { err })
      await shutdown()
      throw err
    }
  }

  let dashboard: DashboardServer | undefined
  if (config.dashboardListen) {
    try {
      dashboard = await startDashboard(config, socketPaths[0], log)
    } catch (err) {
      log.error('cannot start the dashboard', { err })
      await shutdown()
      throw err
    }
  }

  const stopReloading = reloadOnHangup(process.argv.slice(2), config, configFile, { log, settings: liveSettings, registryHosts: registryHostOptions, distribution, runtimes: runtimeChoices, shutdown: shutdownSettings })

  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'))
    process.once('SIGINT', () => resolve('SIGINT'))
  })
  log.info('daemon ready', { version: process.version, root: paths.root })
  const signal = await stopped
  log.info('shutting down; containers keep running', { signal })
  stopReloading()
  metricsServer?.closeAllConnections()
  metricsServer?.close()
  await dashboard?.close()
  await shutdown()
  log.info('daemon stopped')
  return 0
}

/** The dashboard inside the daemon (`--dashboard-listen`), a client of the daemon's own unix socket like any other. */
async function startDashboard(config: DaemonConfig, socket: string | undefined, log: Logger): Promise<DashboardServer> {
  if (!socket) throw invalid('--dashboard-listen needs a unix:// listener to reach the daemon through')
  const { host, port } = parseListen(config.dashboardListen!)
  const tls = isLoopback(host)
    ? undefined
    : {
        cert: await readFile(config.tls.cert),
        key: await readFile(config.tls.key),
        ...(config.tls.verify ? { ca: await readFile(config.tls.ca) } : {}),
      }
  const [{ DashboardServer, defaultAssetsDir }, { EngineClient }] = await Promise.all([import('../dashboard/server.ts'), import('../client/engine-client.ts')])
  const dashboard = new DashboardServer({
    client: new EngineClient({ host: `unix://${socket}` }),
    engineName: `caisd (unix://${socket})`,
    host,
    port,
    assetsDir: defaultAssetsDir(),
    tls,
    passwordHash: config.dashboardPasswordFile ? await readFile(config.dashboardPasswordFile, 'utf8') : undefined,
    stateDir: join(config.root, 'dashboard'),
    audit: (entry) => log.info('audit', { via: 'dashboard', ...entry }),
    onError: (err) => log.warn('dashboard', { err }),
  })
  const { url } = await dashboard.start()
  log.info('dashboard listening', { url })
  return dashboard
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`caisd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
