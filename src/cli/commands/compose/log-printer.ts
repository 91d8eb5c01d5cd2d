import { createInterface } from 'node:readline'
import type { EngineClient } from '../../../client/engine-client.ts'
import { label } from '../../../compose/convert.ts'
import { projectContainers } from '../../../compose/project-containers.ts'
import type { ContainerSummary, EventMessage } from '../../../wire/types.ts'
import type { Io } from '../../io.ts'

/** docker compose's prefix colours, in its order. */
const COLOURS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94]

export interface LogPrinterOptions {
  services: readonly string[]
  follow: boolean
  tail?: string | undefined
  since?: string | undefined
  until?: string | undefined
  timestamps: boolean
  prefix: boolean
  colour: boolean
  /** `SERVICE-N` (logs) or the container's name (attached up). */
  prefixBy: 'service' | 'container'
  /** Called when a followed container stops, with its exit code. */
  onExit?: (name: string, service: string, code: number) => void
  signal?: AbortSignal | undefined
}

/**
 * Prints the logs of a project's containers, each line prefixed with its container. Following, it also picks up
 * containers that start later — restarted or recreated ones, which docker compose loses (docker/compose#8925) —
 * and returns once none of the project's containers is running any more.
 */
export async function printLogs(client: EngineClient, project: string, io: Io, opts: LogPrinterOptions): Promise<void> {
  const wanted = (c: { Labels?: Record<string, string> | undefined; Attributes?: Record<string, string> }): boolean => {
    const labels = c.Labels ?? c.Attributes ?? {}
    return labels[label.oneoff] !== 'True' && (opts.services.length === 0 || opts.services.includes(labels[label.service] ?? ''))
  }
  const initial = (await projectContainers(client, project)).filter((c) => wanted(c))
  const nameOf = (labels: Record<string, string>, name: string): string => (opts.prefixBy === 'service' ? `${labels[label.service]}-${labels[label.number] ?? '1'}` : name)
  let width = Math.max(0, ...initial.map((c) => nameOf(c.Labels, c.Names[0]?.slice(1) ?? '').length))
  const colours = new Map<string, number>()
  const prefixOf = (name: string): string => {
    if (!opts.prefix) return ''
    const text = `${name.padEnd(width)}  | `
    if (!opts.colour) return text
    if (!colours.has(name)) colours.set(name, COLOURS[colours.size % COLOURS.length]!)
    return `\x1b[${colours.get(name)}m${text}\x1b[0m`
  }

  const streaming = new Set<string>()
  const seen = new Set<string>()
  // A container that starts again before its previous stream has noticed it stopped: followed again after.
  const restartedWhileStreaming = new Map<string, () => void>()
  const done: Array<Promise<void>> = []
  /** `since`: for a container met at the start; one that starts later shows all it wrote since it last stopped. */
  const follow = (id: string, labels: Record<string, string>, name: string, initialSince: string | undefined): void => {
    if (streaming.has(id)) {
      restartedWhileStreaming.set(id, () => follow(id, labels, name, initialSince))
      return
    }
    streaming.add(id)
    const shown = nameOf(labels, name)
    width = Math.max(width, shown.length)
    done.push(
      (async () => {
        try {
          let since = initialSince
          const again = seen.has(id)
          if (again) {
            const finished = Date.parse((await client.containers.inspect(id)).State.FinishedAt)
            if (!Number.isNaN(finished)) since = (finished / 1000).toFixed(3)
          }
          seen.add(id)
          const chunks = await client.containers.logs(id, { follow: opts.follow, stdout: true, stderr: true, tail: again ? undefined : opts.tail, since, until: opts.until, timestamps: opts.timestamps, signal: opts.signal })
          const partial = { stdout: '', stderr: '' }
          const write = (stream: 'stdout' | 'stderr', line: string): void => (stream === 'stderr' ? io.err(line) : io.out(line))
          for await (const chunk of chunks) {
            const stream = chunk.stream === 'stderr' ? 'stderr' : 'stdout'
            const lines = (partial[stream] + chunk.data.toString()).split('\n')
            partial[stream] = lines.pop()!
            for (const l of lines) write(stream, `${prefixOf(shown)}${l}`)
          }
          for (const stream of ['stdout', 'stderr'] as const) if (partial[stream] !== '') write(stream, `${prefixOf(shown)}${partial[stream]}`)
        } catch (err) {
          if (!opts.signal?.aborted) throw err
        } finally {
          streaming.delete(id)
        }
        const again = restartedWhileStreaming.get(id)
        if (again) {
          restartedWhileStreaming.delete(id)
          again()
        }
        if (opts.follow && opts.onExit && !opts.signal?.aborted) {
          const state = await client.containers.inspect(id).catch(() => undefined)
          if (state && !state.State.Running) opts.onExit(shown, labels[label.service] ?? '', state.State.ExitCode)
        }
        settled()
      })(),
    )
  }

  // Following, a container that (re)starts later joins; the stream ends once nothing of the project runs.
  let finish = (): void => {}
  const finished = new Promise<void>((r) => (finish = r))
  let events: AbortController | undefined
  const settled = (): void => {
    if (!opts.follow) return
    setTimeout(() => {
      if (streaming.size > 0) return
      void projectContainers(client, project, { all: false }).then((running: ContainerSummary[]) => {
        if (streaming.size === 0 && !running.some((c) => wanted(c))) finish()
      }, () => finish())
    }, 500)
  }
  if (opts.follow) {
    events = new AbortController()
    opts.signal?.addEventListener('abort', () => finish())
    const stream = await client.system.events({ filters: { type: ['container'], event: ['start'], label: [`${label.project}=${project}`] }, signal: events.signal })
    void (async () => {
      try {
        for await (const line of createInterface({ input: stream })) {
          if (line.trim() === '') continue
          const e = JSON.parse(line) as EventMessage
          if (!wanted({ Attributes: e.Actor.Attributes })) continue
          follow(e.Actor.ID, e.Actor.Attributes, e.Actor.Attributes['name'] ?? e.Actor.ID.slice(0, 12), undefined)
        }
      } catch {
        // aborted at the end
      }
    })()
  }
  for (const c of initial) follow(c.Id, c.Labels, c.Names[0]?.slice(1) ?? c.Id, opts.since)
  if (opts.follow) {
    settled()
    await finished
    events?.abort()
  }
  await Promise.all(done)
}
