import { messageOf } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { loadDaemonConfig } from './config-file.ts'
import type { DaemonConfig } from './config.ts'
import type { RuntimeChoices } from '../containers/runtimes.ts'

/** The daemon's objects that read these settings at each use, so that changing them here takes effect at once. */
export interface LiveTargets {
  log: Logger
  settings: { labels: string[]; debug: boolean }
  registryHosts: { insecureRegistries: readonly string[]; registryMirrors: readonly string[] }
  distribution: { maxConcurrentDownloads: number; maxConcurrentUploads: number }
  runtimes: RuntimeChoices
  shutdown: { timeoutSeconds: number }
}

type Setter = (next: DaemonConfig, live: LiveTargets) => void

/** What Docker reloads without a restart, by daemon.json key: the config field and how to apply it. */
const liveKeys: Array<{ key: string; field: keyof DaemonConfig; apply: Setter }> = [
  {
    key: 'log-level',
    field: 'logLevel',
    apply: (next, live) => {
      live.log.setLevel(next.logLevel)
      live.settings.debug = next.logLevel === 'debug'
    },
  },
  { key: 'labels', field: 'labels', apply: (next, live) => (live.settings.labels = next.labels) },
  { key: 'insecure-registries', field: 'insecureRegistries', apply: (next, live) => (live.registryHosts.insecureRegistries = next.insecureRegistries) },
  { key: 'registry-mirrors', field: 'registryMirrors', apply: (next, live) => (live.registryHosts.registryMirrors = next.registryMirrors) },
  { key: 'max-concurrent-downloads', field: 'maxConcurrentDownloads', apply: (next, live) => (live.distribution.maxConcurrentDownloads = next.maxConcurrentDownloads) },
  { key: 'runtimes', field: 'runtimes', apply: (next, live) => (live.runtimes.runtimes = next.runtimes) },
  { key: 'default-runtime', field: 'defaultRuntime', apply: (next, live) => (live.runtimes.defaultRuntime = next.defaultRuntime) },
  { key: 'shutdown-timeout', field: 'shutdownTimeout', apply: (next, live) => (live.shutdown.timeoutSeconds = next.shutdownTimeout) },
  { key: 'max-concurrent-uploads', field: 'maxConcurrentUploads', apply: (next, live) => (live.distribution.maxConcurrentUploads = next.maxConcurrentUploads) },
]

const differs = (a: unknown, b: unknown): boolean => JSON.stringify(a) !== JSON.stringify(b)

/**
 * Applies what changed from `current` to `next` and can change live; names the rest, which waits for a restart.
 * Returns the config now in force.
 */
export function applyReload(current: DaemonConfig, next: DaemonConfig, live: LiveTargets): { config: DaemonConfig; changed: string[]; needRestart: string[] } {
  const changed: string[] = []
  const inForce: Record<string, unknown> = { ...current }
  for (const { key, field, apply } of liveKeys) {
    if (!differs(current[field], next[field])) continue
    apply(next, live)
    inForce[field] = next[field]
    changed.push(key)
  }
  const liveFields = new Set<string>(liveKeys.map((k) => k.field))
  const needRestart = (Object.keys(next) as Array<keyof DaemonConfig>).filter((k) => !liveFields.has(k) && differs(next[k], current[k]))
  return { config: inForce as unknown as DaemonConfig, changed, needRestart }
}

/**
 * SIGHUP: the flags and the config file again; what can change live does, the rest is logged as waiting for a
 * restart. A file that does not load changes nothing and says why in the log.
 */
export function reloadOnHangup(argv: readonly string[], initial: DaemonConfig, file: string | undefined, live: LiveTargets): () => void {
  let config = initial
  const onHangup = (): void => {
    let next: DaemonConfig
    try {
      const loaded = loadDaemonConfig(argv)
      if (loaded === 'help') return
      next = loaded.config
    } catch (err) {
      live.log.error('configuration not reloaded', { file, err: messageOf(err) })
      return
    }
    const result = applyReload(config, next, live)
    config = result.config
    live.log.info('configuration reloaded', { file, changed: result.changed, ...(result.needRestart.length > 0 ? { needRestart: result.needRestart } : {}) })
  }
  process.on('SIGHUP', onHangup)
  return () => process.off('SIGHUP', onHangup)
}
