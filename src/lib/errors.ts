export type ErrorKind =
  | 'invalid'
  | 'not-found'
  | 'conflict'
  | 'not-modified'
  | 'unauthorized'
  | 'forbidden'
  | 'not-implemented'
  | 'unavailable'

/** An error a user can act on. Its message is Docker's wording; `kind` decides the HTTP status, once, in api/errors.ts. */
export class CaisError extends Error {
  readonly kind: ErrorKind
  constructor(kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options)
    this.kind = kind
    this.name = 'CaisError'
  }
}

export const invalid = (message: string, cause?: unknown): CaisError => new CaisError('invalid', message, { cause })
export const notFound = (message: string, cause?: unknown): CaisError => new CaisError('not-found', message, { cause })
export const conflict = (message: string, cause?: unknown): CaisError => new CaisError('conflict', message, { cause })

export function messageOf(err: unknown): string {
  if (isSystemError(err)) return systemMessage(err)
  return err instanceof Error ? err.message : String(err)
}

/** An error of a system call (a full disk, a missing file): the host's trouble, not the request's. */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException & { code: string; syscall: string } {
  if (!(err instanceof Error)) return false
  const e = err as NodeJS.ErrnoException
  return typeof e.code === 'string' && typeof e.syscall === 'string' && e.message.startsWith(`${e.code}: `)
}

/** The store's disk failing a write (full, over quota, read-only, broken): never the request's fault. */
export const isStorageError = (err: unknown): boolean => isSystemError(err) && ['ENOSPC', 'EDQUOT', 'EROFS', 'EIO'].includes(err.code)

/** Node's `ENOSPC: no space left on device, write` as Go (and so Docker) words it: `write: no space left on device`, `open /path: …`. */
function systemMessage(e: NodeJS.ErrnoException & { code: string; syscall: string }): string {
  const end = e.message.lastIndexOf(`, ${e.syscall}`)
  const description = e.message.slice(e.code.length + 2, end > 0 ? end : undefined)
  return `${e.syscall}${e.path ? ` ${e.path}` : ''}: ${description}`
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code
}
