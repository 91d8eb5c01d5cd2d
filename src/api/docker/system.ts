import { availableParallelism, hostname, release, totalmem } from 'node:os'
import { readFileSync } from 'node:fs'
import type { BuildService } from '../../build/service.ts'
import type { ContainerService } from '../../containers/service.ts'
import type { Digest } from '../../content/digest.ts'
import type { EventBus } from '../../events/bus.ts'
import type { ImageService } from '../../images/service.ts'
import type { VolumeService } from '../../volumes/service.ts'
import { logDrivers } from '../../containers/log-config.ts'
import type { RuntimeChoices } from '../../containers/runtimes.ts'
import { parseFilters } from '../../lib/filters.ts'
import { conflict, invalid } from '../../lib/errors.ts'
import { parseTimestamp } from '../../lib/time.ts'
import type { EventMessage, SystemInfo, Version } from '../../wire/types.ts'
import { sendJson, startJsonStream, versionAtLeast } from '../context.ts'
import type { Routes } from '../router.ts'
import { apiVersion, engineVersion, minApiVersion } from '../versions.ts'

export interface SystemDeps {
  containers: ContainerService
  images: ImageService
  volumes: VolumeService
  events: EventBus
  builds: BuildService
  /** `system check` of the store (`repair` mends what it can without losing anything). */
  checkStore: (repair: boolean) => Promise<unknown>
  /** `settings` change when the config file is reloaded: read them at each request. */
  daemon: { id: string; root: string; cgroupVersion: '1' | '2'; warnings: string[]; settings: DaemonSettings; configFile: string | undefined; logDriver: string; cluster?: { store: string; advertise: string } | undefined }
}

/** What `info` reports of the daemon's configuration. */
export interface DaemonSettings {
  labels: string[]
  debug: boolean
  registry: { insecureRegistries: readonly string[]; registryMirrors: readonly string[] }
  runtimes: RuntimeChoices
}

export function systemRoutes(routes: Routes, d: SystemDeps): void {
  const ping = async (ctx: Parameters<Parameters<Routes['get']>[1]>[0]): Promise<void> => {
    const res = ctx.res!
    res.setHeader('Builder-Version', '1')
    res.setHeader('Swarm', 'inactive')
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate')
    res.setHeader('Pragma', 'no-cache')
    res.setHeader('Content-Type', 'text/plain; charset=utf-8')
    if (ctx.req.method === 'HEAD') {
      res.setHeader('Content-Length', '0')
      res.end()
    } else res.end('OK')
  }
  routes.get('/_ping', ping)
  routes.head('/_ping', ping)

  routes.get('/version', async (ctx) => sendJson(ctx, 200, version()))

  // cais's own: Docker has no fsck of its store. One check at a time: a repair racing another would set aside twice.
  let checking: Promise<unknown> | undefined
  routes.post('/system/check', async (ctx) => {
    if (checking) throw conflict('a store check is already running')
    const repair = ['1', 'true'].includes(ctx.query.get('repair') ?? '')
    checking = d.checkStore(repair)
    try {
      sendJson(ctx, 200, await checking)
    } finally {
      checking = undefined
    }
  })

  routes.get('/system/df', async (ctx) => {
    // `type` came with API 1.42 (older clients get everything); images' VirtualSize went with 1.44.
    const types = versionAtLeast(ctx, '1.42') ? ctx.query.getAll('type') : []
    const want = (t: string): boolean => types.length === 0 || types.includes(t)
    const images = want('image') ? d.images.list({ filters: new Map() }) : []
    const shared = images.length > 0 ? d.images.sharedSizes() : new Map<Digest, number>()
    for (const img of images) {
      img.Containers = d.containers.containersUsing(img.Id as Digest).length
      img.SharedSize = shared.get(img.Id as Digest) ?? 0
      if (!versionAtLeast(ctx, '1.44')) Object.assign(img, { VirtualSize: img.Size })
    }
    sendJson(ctx, 200, {
      // Each layer once, however many images share it, as Docker's.
      LayersSize: want('image') ? d.images.layersSize() : 0,
      Images: images,
      Containers: want('container') ? await Promise.all(d.containers.list({ all: true, filters: new Map() }).map(async (c) => ({ ...c, ...(await d.containers.sizes(c.Id)) }))) : [],
      Volumes: want('volume') ? await d.volumes.usage() : [],
      BuildCache: want('build-cache') ? await d.builds.usage() : [],
    })
  })

  routes.get('/info', async (ctx) => {
    const counts = d.containers.counts()
    const info: SystemInfo = {
      ID: d.daemon.id,
      Containers: counts.running + counts.paused + counts.stopped,
      ContainersRunning: counts.running,
      ContainersPaused: counts.paused,
      ContainersStopped: counts.stopped,
      Images: d.images.count,
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', 'extfs']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: [...logDrivers] },
      MemoryLimit: true,
      SwapLimit: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: true,
      Debug: d.daemon.settings.debug,
      NFd: 0,
      OomKillDisable: d.daemon.cgroupVersion === '1',
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: d.daemon.logDriver,
      CgroupDriver: 'cgroupfs',
      CgroupVersion: d.daemon.cgroupVersion,
      NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: operatingSystem(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: registryConfig(d.daemon.settings.registry),
      NCPU: availableParallelism(),
      MemTotal: totalmem(),
      GenericResources: null,
      DockerRootDir: d.daemon.root,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: hostname(),
      Labels: d.daemon.settings.labels,
      ExperimentalBuild: false,
      ServerVersion: engineVersion,
      Runtimes: {
        crun: { path: 'crun' },
        runc: { path: 'crun' },
        ...Object.fromEntries(Object.entries(d.daemon.settings.runtimes.runtimes).map(([name, r]) => [name, { path: r.path, ...(r.runtimeArgs ? { runtimeArgs: r.runtimeArgs } : {}) }])),
      },
      DefaultRuntime: d.daemon.settings.runtimes.defaultRuntime,
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      // dockerd's fields of its cluster store (removed from its API in 1.41 with the store itself).
      ...(d.daemon.cluster ? { ClusterStore: d.daemon.cluster.store, ClusterAdvertise: d.daemon.cluster.advertise } : {}),
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'catatonit',
      // Before API 1.47 each commit also said which one the engine expected.
      ...Object.fromEntries(['ContainerdCommit', 'RuncCommit', 'InitCommit'].map((k) => [k, versionAtLeast(ctx, '1.47') ? { ID: '' } : { ID: '', Expected: '' }])),
      SecurityOptions: ['name=seccomp,profile=builtin'],
      CDISpecDirs: [],
      // As dockerd's, each says what it is: the docker CLI prints them as they come.
      Warnings: d.daemon.warnings.map((w) => (w.startsWith('WARNING: ') ? w : `WARNING: ${w}`)),
      ...(d.daemon.configFile ? { ConfigFile: d.daemon.configFile } : {}),
    }
    sendJson(ctx, 200, info)
  })

  routes.get('/events', async (ctx) => {
    const q = ctx.query
    const filters = parseFilters(q.get('filters') ?? undefined, ['container', 'event', 'image', 'label', 'network', 'type', 'volume', 'daemon', 'plugin', 'scope'])
    const since = q.get('since') ? parseTimestamp(q.get('since')!) : undefined
    const until = q.get('until') ? parseTimestamp(q.get('until')!) : undefined
    if (q.get('since') && since === undefined) throw invalid(`invalid value for since: ${q.get('since')}`)
    if (q.get('until') && until === undefined) throw invalid(`invalid value for until: ${q.get('until')}`)
    const matches = (e: EventMessage): boolean => {
      const attrs = e.Actor.Attributes
      for (const [key, values] of filters) {
        const ok = values.some((v) => {
          switch (key) {
            case 'type':
              return e.Type === v
            case 'event':
              return e.Action === v || e.Action.startsWith(`${v}:`)
            case 'container':
              return e.Type === 'container' && (e.Actor.ID.startsWith(v) || attrs['name'] === v)
            case 'image':
              return attrs['image'] === v || e.Actor.ID === v || attrs['name'] === v
            case 'label': {
              const eq = v.indexOf('=')
              return eq < 0 ? v in attrs : attrs[v.slice(0, eq)] === v.slice(eq + 1)
            }
            case 'scope':
              return v === 'local'
            default:
              return e.Type === key && (e.Actor.ID === v || attrs['name'] === v)
          }
        })
        if (!ok) return false
      }
      return true
    }
    const write = startJsonStream(ctx)
    const inWindow = (e: EventMessage): boolean => (since === undefined || e.time * 1000 >= Math.floor(since / 1000) * 1000) && (until === undefined || e.time * 1000 <= until)
    const live: EventMessage[] = []
    let wake: (() => void) | undefined
    const sub = d.events.subscribe((e) => {
      live.push(e)
      wake?.()
    })
    // One listener for the whole stream: one per wait would pile up on a long `docker events`.
    const onAbort = (): void => wake?.()
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (since !== undefined) for (const e of sub.past) if (inWindow(e) && matches(e)) write(e)
      const now = Date.now()
      if (until !== undefined && until <= now) return
      for (;;) {
        while (live.length > 0) {
          const e = live.shift()!
          if (matches(e)) write(e)
        }
        if (ctx.signal.aborted) return
        const timeLeft = until === undefined ? 3_600_000 : until - Date.now()
        if (timeLeft <= 0) return
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, timeLeft).unref()
        })
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
      sub.unsubscribe()
      ctx.res!.end()
    }
  })

  // Swarm, plugins and BuildKit sessions are not implemented; answer the way clients expect.
  const noSwarm = async (ctx: Parameters<Parameters<Routes['get']>[1]>[0]): Promise<void> =>
    sendJson(ctx, 503, {
      message: 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.',
    })
  for (const p of ['/swarm', '/nodes', '/services', '/tasks', '/secrets', '/configs']) {
    routes.get(p, noSwarm)
    routes.get(`${p}/{rest*}`, noSwarm)
  }
  routes.get('/plugins', async (ctx) => sendJson(ctx, 200, []))
  routes.get('/plugins/{name*}/json', async (ctx) => sendJson(ctx, 404, { message: `plugin "${ctx.params['name']}" not found` }))
}

function version(): Version {
  const details = {
    ApiVersion: apiVersion,
    Arch: process.arch === 'x64' ? 'amd64' : process.arch,
    BuildTime: '',
    Experimental: 'false',
    GitCommit: 'cais',
    GoVersion: `node${process.versions.node}`,
    KernelVersion: release(),
    MinAPIVersion: minApiVersion,
    Os: 'linux',
  }
  return {
    Platform: { Name: 'cais' },
    Components: [{ Name: 'Engine', Version: engineVersion, Details: details }],
    Version: engineVersion,
    ApiVersion: apiVersion,
    MinAPIVersion: minApiVersion,
    GitCommit: 'cais',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: details.Arch,
    KernelVersion: release(),
    Experimental: false,
    BuildTime: '',
  }
}

function operatingSystem(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))
    return m?.[1] ?? 'Linux'
  } catch {
    return 'Linux'
  }
}

/** Docker's RegistryConfig: insecure registries split into CIDRs and named ones, Docker Hub with its mirrors. */
function registryConfig(r: DaemonSettings['registry']): SystemInfo['RegistryConfig'] {
  const cidrs = ['127.0.0.0/8', ...r.insecureRegistries.filter((e) => e.includes('/'))]
  const indexConfigs: Record<string, { Name: string; Mirrors: string[]; Secure: boolean; Official: boolean }> = {
    'docker.io': { Name: 'docker.io', Mirrors: [...r.registryMirrors], Secure: true, Official: true },
  }
  for (const name of r.insecureRegistries.filter((e) => !e.includes('/'))) indexConfigs[name] = { Name: name, Mirrors: [], Secure: false, Official: false }
  return { IndexConfigs: indexConfigs, InsecureRegistryCIDRs: cidrs, Mirrors: [...r.registryMirrors] }
}
