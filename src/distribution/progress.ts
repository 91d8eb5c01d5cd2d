import { humanSize } from '../lib/size.ts'

/** One line of Docker's JSON progress stream (pkg/jsonmessage). */
export interface ProgressMessage {
  status?: string
  id?: string
  progressDetail?: { current?: number; total?: number }
  progress?: string
  aux?: unknown
}

export type ProgressSink = (msg: ProgressMessage) => void

/** Docker's bar: `[=====>      ]  1.23MB/4.56MB` (50 columns). */
export function progressBar(current: number, total: number | undefined): string {
  if (!total || total <= 0) return humanSize(current)
  const width = 50
  const filled = Math.min(width, Math.floor((current / total) * width))
  const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? (filled === width ? '=' : '>') : '') + ' '.repeat(width - filled)
  return `[${bar}] ${humanSize(current).padStart(8)}/${humanSize(total)}`
}

/** Emits byte progress for one item, at most every 100 ms, plus the final count. */
export function byteProgress(sink: ProgressSink, id: string, status: string, total: number | undefined): (bytes: number, done?: boolean) => void {
  let current = 0
  let last = 0
  return (bytes, done = false) => {
    current += bytes
    const now = Date.now()
    if (!done && now - last < 100) return
    last = now
    sink({ status, id, progressDetail: { current, ...(total ? { total } : {}) }, progress: progressBar(current, total) })
  }
}

export const shortDigest = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12)
