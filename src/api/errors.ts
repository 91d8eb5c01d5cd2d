import { CaisError, type ErrorKind } from '../lib/errors.ts'

const statusOf: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'not-modified': 304,
  'not-implemented': 501,
  unavailable: 503,
}

/** The one place an error becomes an HTTP status. Unknown errors are 500. */
export function httpStatusOf(err: unknown): number {
  if (err instanceof CaisError) return statusOf[err.kind]
  if (err instanceof SyntaxError) return 400
  return 500
}
