import { describeError } from '../errors.ts'
import type { Io } from '../io.ts'

/** Runs `fn` for every argument, reports each failure on its own line and keeps going, as docker does. */
export async function forEachRef(refs: readonly string[], io: Io, fn: (ref: string) => Promise<void>): Promise<number> {
  let status = 0
  for (const ref of refs) {
    try {
      await fn(ref)
    } catch (err) {
      io.err(describeError(err))
      status = 1
    }
  }
  return status
}
