import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'

/** `sha256:<64 hex>` */
export type Digest = `sha256:${string}`

export const digestOf = (data: string | Uint8Array): Digest => `sha256:${createHash('sha256').update(data).digest('hex')}`
export const hexOf = (digest: string): string => digest.replace(/^sha256:/, '')

/** A pass-through stream that hashes and counts what flows through it. */
export class DigestingStream extends Transform {
  readonly #hash: Hash = createHash('sha256')
  size = 0
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk)
    this.size += chunk.length
    cb(null, chunk)
  }
  digest(): Digest {
    return `sha256:${this.#hash.digest('hex')}`
  }
}
