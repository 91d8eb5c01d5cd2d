/**
 * A full collection a moment after a burst of large buffers (a push or a pull, a load, a save, a commit, a build).
 * V8 counts buffers outside its heap but collects them only under allocation pressure: once the daemon is idle
 * nothing brings that on, and a daemon at rest would hold a push's 16 MB chunks and a pull's layers for as long as
 * it stays idle. Needs `--expose-gc` (bin/caisd gives it); without it, a no-op.
 */
let pending: NodeJS.Timeout | undefined

export function collectAfterBurst(delayMs = 2000): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) return
  clearTimeout(pending)
  pending = setTimeout(() => gc(), delayMs)
  pending.unref()
}

/** The routes whose requests move large buffers through the daemon. */
const bursts = new Set(['/images/create', '/images/{name*}/push', '/images/load', '/images/get', '/images/{name*}/get', '/commit', '/build', '/containers/{id}/export', '/containers/{id}/archive'])

export const isBurstRoute = (route: string): boolean => bursts.has(route)
