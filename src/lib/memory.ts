/**
 * A full collection once the daemon is idle: a moment after a burst of large buffers (a push or a pull, a load, a
 * save, a commit, a build), a little later after any other work. V8 collects only under allocation pressure: once the
 * daemon is idle nothing brings that on, and a daemon at rest would hold a push's 16 MB chunks, a pull's layers and
 * the small buffers of logs and container starts (in malloc's heap, which cannot shrink past one still in use) for as
 * long as it stays idle. A daemon kept busy never reaches the timer. Needs `--expose-gc` (bin/caisd gives it);
 * without it, a no-op.
 *
 * The collection is V8's last resort, the one it makes before it gives up for want of memory: it compacts, and
 * gives back the pages it frees and those it kept for later. After the bench's work a rested daemon read 87-92 MB
 * with a plain full collection, 75-79 with this one, 68-71 fresh (bench/README.md); it costs two collections of
 * 7-13 ms each, once per rest, and the first request after the rest ~1 ms.
 */
let pending: NodeJS.Timeout | undefined

/** V8's options for `gc()` (its gc extension); an unknown one is ignored, not refused. */
export const lastResortCollection = { type: 'major', execution: 'sync', flavor: 'last-resort' } as const

export function collectWhenIdle(delayMs: number): void {
  const gc = (globalThis as { gc?: (options: typeof lastResortCollection) => void }).gc
  if (!gc) return
  clearTimeout(pending)
  pending = setTimeout(() => gc(lastResortCollection), delayMs)
  pending.unref()
}

/** The routes whose requests move large buffers through the daemon. */
const bursts = new Set(['/images/create', '/images/{name*}/push', '/images/load', '/images/get', '/images/{name*}/get', '/commit', '/build', '/containers/{id}/export', '/containers/{id}/archive'])

/** How long after a request the daemon is taken as idle: soon after a burst of large buffers, later after the rest. */
export const idleAfterMs = (route: string): number => (bursts.has(route) ? 2000 : 5000)
