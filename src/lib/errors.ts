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
  return err instanceof Error ? err.message : String(err)
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code
}
