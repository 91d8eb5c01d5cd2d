import { signal } from '@preact/signals'

/** The session the page runs in, from `/api/session`. */
export interface SessionInfo {
  csrf: string
  identity: string
  engine: string
  /** The dashboard knows other engines (the CLI's contexts) the page may switch to. */
  canSwitch?: boolean
}

export const session = signal<SessionInfo | undefined>(undefined)
/** Set while a live channel is down and being reconnected: the page shows a banner. */
export const connectionLost = signal(false)

export class ApiFailure extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** A call to the dashboard's REST routes; the engine's error message becomes the thrown error's. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {}
  if (method !== 'GET') headers['X-CSRF-Token'] = session.value?.csrf ?? ''
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  const text = await res.text()
  let value: unknown
  try {
    value = text ? JSON.parse(text) : undefined
  } catch {
    value = { message: text }
  }
  if (!res.ok) throw new ApiFailure(res.status, (value as { message?: string } | undefined)?.message ?? `HTTP ${res.status}`)
  return value as T
}

export async function loadSession(): Promise<void> {
  session.value = await api<SessionInfo>('GET', '/api/session')
}

export interface ChannelHandlers {
  onMessage(data: string | ArrayBuffer): void
  onOpen?(): void
  /** The channel ended for good (the stream finished, or the server refused it). */
  onEnd?(reason: string): void
}

/**
 * A live channel that reconnects when the connection drops (not when the stream ends). `params()` is asked again
 * at each connect, so a log resumes from the last line it had.
 */
export function openChannel(path: string, params: () => Record<string, string | string[]>, handlers: ChannelHandlers, opts: { reconnect?: boolean } = {}): Channel {
  let ws: WebSocket | undefined
  let closed = false
  let attempt = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const connect = (): void => {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(params())) for (const one of Array.isArray(v) ? v : [v]) q.append(k, one)
    ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}?${q.toString()}`)
    ws.binaryType = 'arraybuffer'
    ws.onopen = () => {
      attempt = 0
      connectionLost.value = false
      handlers.onOpen?.()
    }
    ws.onmessage = (e: MessageEvent<string | ArrayBuffer>) => handlers.onMessage(e.data)
    ws.onclose = (e) => {
      if (closed) return
      // 1000: the stream ended; 1011: the engine refused (the message came before). Anything else is a drop.
      if (e.code === 1000 || e.code === 1011 || opts.reconnect === false) {
        handlers.onEnd?.(e.reason)
        return
      }
      connectionLost.value = true
      timer = setTimeout(connect, Math.min(5000, 250 * 2 ** attempt++))
    }
  }
  connect()
  const close = (): void => {
    closed = true
    if (timer) clearTimeout(timer)
    ws?.close()
  }
  return Object.assign(close, {
    send(data: string | Uint8Array): void {
      if (ws?.readyState === WebSocket.OPEN) ws.send(data)
    },
  })
}

/** Closes the channel when called; `send` writes to it while it is open. */
export type Channel = (() => void) & { send(data: string | Uint8Array): void }

export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12)

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let v = n
  let i = 0
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`
}

export function ago(unixSeconds: number): string {
  const s = Math.max(0, Date.now() / 1000 - unixSeconds)
  if (s < 60) return `${Math.floor(s)} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} days ago`
}
