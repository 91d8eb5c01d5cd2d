import { availableParallelism, release, totalmem } from 'node:os'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { ObservedRequest } from '../api/server.ts'
import type { EventBus } from '../events/bus.ts'

/** What the metrics read when they are scraped. */
export interface MetricSources {
  daemonId: string
  version: string
  containerCounts: () => { running: number; paused: number; stopped: number }
  imageCount: () => number
  events: EventBus
}

/** The routes whose success is a container action, by `METHOD pattern`: dockerd's engine_daemon_container_actions_seconds. */
const containerActions: Record<string, string> = {
  'POST /containers/create': 'create',
  'POST /containers/{id}/start': 'start',
  'POST /containers/{id}/stop': 'stop',
  'POST /containers/{id}/restart': 'restart',
  'POST /containers/{id}/kill': 'kill',
  'POST /containers/{id}/pause': 'pause',
  'POST /containers/{id}/unpause': 'unpause',
  'DELETE /containers/{id}': 'delete',
  'GET /containers/{id}/changes': 'changes',
  'POST /commit': 'commit',
}

/**
 * The daemon's Prometheus metrics, under dockerd's names where dockerd has them (engine_daemon_*), and cais's own
 * for the API and image transfers; Node's process metrics too. Counts are read from the services at each scrape.
 */
export class EngineMetrics {
  readonly registry = new Registry()
  readonly #actions: Histogram<'action'>
  readonly #requests: Counter<'method' | 'route' | 'status'>
  readonly #latency: Histogram<'method' | 'route'>
  readonly #transferBytes: Counter<'direction'>

  constructor(sources: MetricSources) {
    const registers = [this.registry]
    new Gauge({
      name: 'engine_daemon_engine_info',
      help: 'The information related to the engine and the OS it is running on',
      labelNames: ['daemon_id', 'version', 'kernel', 'os_type', 'architecture', 'graphdriver'],
      registers,
    })
      .labels({ daemon_id: sources.daemonId, version: sources.version, kernel: release(), os_type: 'linux', architecture: process.arch === 'x64' ? 'x86_64' : process.arch, graphdriver: 'overlay2' })
      .set(1)
    new Gauge({ name: 'engine_daemon_engine_cpus_cpus', help: 'The number of cpus that the host system of the engine has', registers }).set(availableParallelism())
    new Gauge({ name: 'engine_daemon_engine_memory_bytes', help: 'The number of bytes of memory that the host system of the engine has', registers }).set(totalmem())
    new Gauge({
      name: 'engine_daemon_container_states_containers',
      help: 'The count of containers in various states',
      labelNames: ['state'],
      registers,
      collect() {
        const c = sources.containerCounts()
        this.set({ state: 'running' }, c.running)
        this.set({ state: 'paused' }, c.paused)
        this.set({ state: 'stopped' }, c.stopped)
      },
    })
    new Gauge({ name: 'cais_images', help: 'The number of images', registers, collect: function () { this.set(sources.imageCount()) } })
    this.#actions = new Histogram({ name: 'engine_daemon_container_actions_seconds', help: 'The number of seconds it takes to process each container action', labelNames: ['action'], registers })
    new Counter({
      name: 'engine_daemon_events_total',
      help: 'The number of events logged',
      registers,
      collect() {
        let total = 0
        for (const n of sources.events.emitted.values()) total += n
        this.reset()
        this.inc(total)
      },
    })
    new Counter({
      name: 'cais_events_total',
      help: 'Events emitted, by object type and action',
      labelNames: ['type', 'action'],
      registers,
      collect() {
        this.reset()
        const byKind = new Map<string, number>()
        // Actions such as `exec_start: sh -c …` carry a command: only the part before the colon is a label.
        for (const [key, n] of sources.events.emitted) {
          const kind = key.split(':')[0]!
          byKind.set(kind, (byKind.get(kind) ?? 0) + n)
        }
        for (const [kind, n] of byKind) {
          const [type, action] = kind.split(' ') as [string, string]
          this.inc({ type, action }, n)
        }
      },
    })
    new Gauge({ name: 'engine_daemon_events_subscribers_total', help: 'The number of current subscribers to events', registers, collect: function () { this.set(sources.events.subscribers) } })
    this.#requests = new Counter({ name: 'cais_api_requests_total', help: 'API requests answered, by method, route and status', labelNames: ['method', 'route', 'status'], registers })
    this.#latency = new Histogram({
      name: 'cais_api_request_duration_seconds',
      help: 'Time to answer an API request, to the end of its body (streams count until they end)',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    })
    this.#transferBytes = new Counter({ name: 'cais_image_transfer_bytes_total', help: 'Blob bytes downloaded by pulls and uploaded by pushes', labelNames: ['direction'], registers })
    this.#transferBytes.inc({ direction: 'pull' }, 0)
    this.#transferBytes.inc({ direction: 'push' }, 0)
    collectDefaultMetrics({ register: this.registry })
  }

  observeRequest(r: ObservedRequest): void {
    this.#requests.inc({ method: r.method, route: r.route, status: String(r.status) })
    this.#latency.observe({ method: r.method, route: r.route }, r.seconds)
    const action = containerActions[`${r.method} ${r.route}`]
    if (action && r.status < 300) this.#actions.observe({ action }, r.seconds)
  }

  transferred(direction: 'pull' | 'push', bytes: number): void {
    this.#transferBytes.inc({ direction }, bytes)
  }
}
