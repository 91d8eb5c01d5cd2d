import { invalid } from '../lib/errors.ts'

/** Docker's default detach sequence: ctrl-p, ctrl-q. */
export const defaultDetachKeys = [0x10, 0x11]

/** Parses `detachKeys` as Docker does: comma-separated `ctrl-<x>` or single characters. */
export function parseDetachKeys(spec: string | null): number[] {
  if (spec === null || spec === '') return defaultDetachKeys
  return spec.split(',').map((key) => {
    const k = key.trim()
    if (k.length === 1) return k.charCodeAt(0)
    const m = /^ctrl-(.)$/.exec(k)
    if (m) {
      const c = m[1]!
      if (c >= 'a' && c <= 'z') return c.charCodeAt(0) - 96
      const special = '@[\\]^_'.indexOf(c)
      if (special >= 0) return special === 0 ? 0 : 27 + special - 1
    }
    throw invalid(`Invalid detach keys (${spec}) provided`)
  })
}

/**
 * Watches input for the detach sequence. Bytes that could start it are held back; when the whole sequence
 * arrives `onDetach` is called and those bytes are dropped; when it breaks off they are passed on after all.
 */
export class DetachDetector {
  readonly #keys: number[]
  #matched = 0

  constructor(keys: number[]) {
    this.#keys = keys
  }

  /** Returns the bytes to pass on, and whether the sequence completed. */
  feed(chunk: Buffer): { pass: Buffer; detached: boolean } {
    const out: number[] = []
    for (const byte of chunk) {
      if (byte === this.#keys[this.#matched]) {
        this.#matched++
        if (this.#matched === this.#keys.length) return { pass: Buffer.from(out), detached: true }
        continue
      }
      out.push(...this.#keys.slice(0, this.#matched))
      this.#matched = byte === this.#keys[0] ? 1 : 0
      if (this.#matched === 0) out.push(byte)
    }
    return { pass: Buffer.from(out), detached: false }
  }
}
