import { ApiError } from '../client/http.ts'

/** The one line docker prints for a failed call: daemon errors are prefixed as docker does. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `Error response from daemon: ${err.message}`
  return err instanceof Error ? err.message : String(err)
}
