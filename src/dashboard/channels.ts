import type { WebSocket } from 'ws'
import type { EngineClient } from '../client/engine-client.ts'
import { statsFigures } from '../client/stats-figures.ts'
import { jsonLines } from '../client/streams.ts'
import type { Alert, AlertEngine } from './alerts.ts'

/**
 * The dashboard's live channels, one WebSocket each: the engine's events, a container's log, its stats, and an
 * exec terminal. Each follows one engine stream and ends it when the page goes.
 */
export interface ChannelContext {
  client: EngineClient
  alerts: AlertEngine
  statsHub: StatsHub
  audit: (action: string) => void
}

export type Channel = (ws: WebSocket, url: URL, ctx: ChannelContext) => Promise<void>

/** Sends a message and waits until the socket has taken it: a slow page slows the stream, memory stays flat. */
const sendPaced = (ws: WebSocket, data: string | Buffer): Promise<void> =>
  new Promise((resolve) => {
    if (ws.readyState !== ws.OPEN) return resolve()
    ws.send(data, () => resolve())
  })

/** An abort signal that fires when the page closes the socket. */
function closedSignal(ws: WebSocket): AbortSignal {
  const abort = new AbortController()
  ws.once('close', () => abort.abort())
  return abort.signal
}

const fail = (ws: WebSocket, err: unknown): void => {
  if (ws.readyState !== ws.OPEN) return
  ws.send(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }))
  ws.close(1011)
}

/** The engine's events as they happen, one JSON message each. */
const events: Channel = async (ws, _url, { client }) => {
  const signal = closedSignal(ws)
  try {
    for await (const e of jsonLines<unknown>(await client.system.events({ signal }))) await sendPaced(ws, JSON.stringify(e))
  } catch (err) {
    if (!signal.aborted) throw err
  }
}

/**
 * A container's log: messages `{ b: [[stream, text], …] }` (1 stdout, 2 stderr), the chunks that came within 15 ms
 * or up to 64 kB together, so an engine that frames each line (dockerd) costs a message per batch, not per line.
 * `since` (a timestamp) lets a page that lost its connection resume where it was.
 */
const logs: Channel = async (ws, url, { client }) => {
  const q = url.searchParams
  const signal = closedSignal(ws)
  const id = q.get('id') ?? ''
  const chunks = await client.containers.logs(id, {
    follow: q.get('follow') === '1',
    timestamps: q.get('timestamps') === '1',
    tail: q.get('tail') ?? undefined,
    since: q.get('since') ?? undefined,
    signal,
  })
  let batch: Array<[number, string]> = []
  let size = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const flush = async (): Promise<void> => {
    if (timer) clearTimeout(timer)
    timer = undefined
    if (batch.length === 0) return
    const b = batch
    batch = []
    size = 0
    await sendPaced(ws, JSON.stringify({ b }))
  }
  try {
    for await (const c of chunks) {
      batch.push([c.stream === 'stderr' ? 2 : 1, c.data.toString('utf8')])
      size += c.data.length
      if (size >= 64 * 1024) await flush()
      else timer ??= setTimeout(() => void flush(), 15)
    }
  } catch (err) {
    if (!signal.aborted) throw err
  }
  await flush()
  if (ws.readyState === ws.OPEN) ws.close(1000, 'end of log')
}

/**
 * One engine stats stream per container, shared by every page that shows it: three tabs on fifty containers cost
 * fifty engine streams, not a hundred and fifty. The stream ends when its last listener goes.
 */
export class StatsHub {
  readonly #client: EngineClient
  readonly #feeds = new Map<string, { listeners: Set<(message: string | undefined) => void>; stop: AbortController }>()

  constructor(client: EngineClient) {
    this.#client = client
  }

  /** Calls `listener` with each sample's figures as JSON, then with undefined when the stream ends. */
  subscribe(id: string, listener: (message: string | undefined) => void): () => void {
    let feed = this.#feeds.get(id)
    if (!feed) {
      const created = { listeners: new Set<(message: string | undefined) => void>(), stop: new AbortController() }
      this.#feeds.set(id, created)
      void this.#run(id, created)
      feed = created
    }
    const mine = feed
    mine.listeners.add(listener)
    return () => {
      mine.listeners.delete(listener)
      if (mine.listeners.size === 0) {
        mine.stop.abort()
        if (this.#feeds.get(id) === mine) this.#feeds.delete(id)
      }
    }
  }

  async #run(id: string, feed: { listeners: Set<(message: string | undefined) => void>; stop: AbortController }): Promise<void> {
    try {
      for await (const s of await this.#client.containers.stats(id, { stream: true, signal: feed.stop.signal })) {
        const message = JSON.stringify({ time: Date.parse(s.read) || Date.now(), ...statsFigures(s) })
        for (const l of feed.listeners) l(message)
      }
    } catch (err) {
      if (!feed.stop.signal.aborted) for (const l of feed.listeners) l(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }))
    } finally {
      if (this.#feeds.get(id) === feed) this.#feeds.delete(id)
      for (const l of feed.listeners) l(undefined)
    }
  }
}

/** A container's stats, a figures message per sample (once a second); a page too slow for one skips samples. */
const stats: Channel = async (ws, url, { statsHub }) => {
  await new Promise<void>((resolve) => {
    const unsubscribe = statsHub.subscribe(url.searchParams.get('id') ?? '', (message) => {
      if (message === undefined) return resolve()
      if (ws.readyState === ws.OPEN && ws.bufferedAmount < 256 * 1024) ws.send(message)
    })
    ws.once('close', () => {
      unsubscribe()
      resolve()
    })
  })
  if (ws.readyState === ws.OPEN) ws.close(1000, 'end of stats')
}

/**
 * A terminal: an exec with a TTY in the container. Binary messages are keystrokes in and output out; a text
 * message `{ resize: [cols, rows] }` resizes it; when the process ends, `{ exit: code }` and the socket closes.
 */
const exec: Channel = async (ws, url, { client, audit }) => {
  const q = url.searchParams
  const container = q.get('id') ?? ''
  const cmd = q.getAll('cmd').length > 0 ? q.getAll('cmd') : ['sh']
  const cols = Number(q.get('cols')) || 80
  const rows = Number(q.get('rows')) || 24
  // The page may type as soon as its socket opens: what comes before the exec runs is held, then sent in order.
  const early: Array<{ bytes: Buffer; binary: boolean }> = []
  let take = (bytes: Buffer, binary: boolean): void => void early.push({ bytes, binary })
  ws.on('message', (data, binary) => take(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data), binary))
  const { Id } = await client.execs.create(container, { Cmd: cmd, Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true, ConsoleSize: [rows, cols] })
  audit(`exec ${container} ${cmd.join(' ')}`)
  const { output, socket } = await client.execs.start(Id, { tty: true, consoleSize: [rows, cols] })
  take = (bytes, binary) => {
    if (binary) {
      socket.write(bytes)
      return
    }
    try {
      const msg = JSON.parse(bytes.toString('utf8')) as { resize?: [number, number] }
      if (Array.isArray(msg.resize)) void client.execs.resize(Id, msg.resize[1], msg.resize[0]).catch(() => undefined)
    } catch {
      // not a control message: ignored
    }
  }
  for (const m of early.splice(0)) take(m.bytes, m.binary)
  ws.once('close', () => socket.destroy())
  if (ws.readyState !== ws.OPEN) socket.destroy() // the page left while the exec was being made
  try {
    for await (const c of output) await sendPaced(ws, c.data)
  } catch {
    // the connection went: the exit code tells the rest
  }
  const { ExitCode } = await client.execs.inspect(Id)
  if (ws.readyState === ws.OPEN) {
    ws.send(JSON.stringify({ exit: ExitCode }))
    ws.close(1000, 'exited')
  }
}

/**
 * A pull or a push: the engine's progress messages as they come, one JSON message each (`id`, `status`,
 * `progressDetail` per layer, as `docker pull` draws them); an error the engine puts in the stream ends it with 1011.
 * Leaving the page does not stop the transfer, as a `docker pull` interrupted by Ctrl-C does not on the engine.
 */
const transfer = (kind: 'pull' | 'push'): Channel => async (ws, url, { client, audit }) => {
  const image = url.searchParams.get('image') ?? ''
  if (!image) throw new Error('an image reference is required')
  audit(`${kind} ${image}`)
  const messages = kind === 'pull' ? await client.images.pull(image) : await client.images.push(image)
  for await (const m of messages) {
    const error = (m as { errorDetail?: { message?: string }; error?: string }).errorDetail?.message ?? (m as { error?: string }).error
    if (error) throw new Error(error)
    await sendPaced(ws, JSON.stringify(m))
  }
  if (ws.readyState === ws.OPEN) ws.close(1000, 'done')
}

/**
 * A compose stack's merged log: every container of the project followed at once, from `tail` lines back, one
 * message `{ c, s, t }` per chunk (the container as compose prefixes it, `web-1`; 1 stdout, 2 stderr; the text).
 */
const stackLogs: Channel = async (ws, url, { client }) => {
  const project = url.searchParams.get('project') ?? ''
  const signal = closedSignal(ws)
  const [{ label }, { nameOf, projectContainers }] = await Promise.all([import('../compose/convert.ts'), import('../compose/project-containers.ts')])
  const containers = await projectContainers(client, project, { all: true })
  if (containers.length === 0) throw new Error(`no compose project ${project} on this engine`)
  await Promise.all(
    containers.map(async (c) => {
      const name = `${c.Labels[label.service] ?? nameOf(c)}-${c.Labels[label.number] ?? '1'}`
      try {
        const chunks = await client.containers.logs(c.Id, { follow: true, tail: url.searchParams.get('tail') ?? '100', signal })
        for await (const chunk of chunks) await sendPaced(ws, JSON.stringify({ c: name, s: chunk.stream === 'stderr' ? 2 : 1, t: chunk.data.toString('utf8') }))
      } catch (err) {
        if (!signal.aborted) throw err
      }
    }),
  )
  if (ws.readyState === ws.OPEN) ws.close(1000, 'end of logs')
}

/** Alerts as they fire. */
const alerts: Channel = async (ws, _url, { alerts }) => {
  const send = (a: Alert): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(a))
  }
  alerts.on('alert', send)
  await new Promise<void>((resolve) => ws.once('close', () => resolve()))
  alerts.off('alert', send)
}

export const channels: Record<string, { channel: Channel; mutating: boolean }> = {
  '/ws/events': { channel: events, mutating: false },
  '/ws/logs': { channel: logs, mutating: false },
  '/ws/stack-logs': { channel: stackLogs, mutating: false },
  '/ws/stats': { channel: stats, mutating: false },
  '/ws/exec': { channel: exec, mutating: true },
  '/ws/alerts': { channel: alerts, mutating: false },
  '/ws/pull': { channel: transfer('pull'), mutating: true },
  '/ws/push': { channel: transfer('push'), mutating: true },
}

export { fail as failChannel }
