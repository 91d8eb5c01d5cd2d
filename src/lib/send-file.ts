import { open } from 'node:fs/promises'
import type { Writable } from 'node:stream'

const CHUNK = 256 * 1024

/**
 * Writes bytes `start`..`end` (inclusive) of a file to `out` through two buffers used in turn: one is read into
 * while the other is written. A stream of the file would allocate a buffer per chunk (800 MB served is 800 MB of
 * garbage); this allocates 512 KiB per transfer. A buffer is refilled only after its write has completed, which
 * is when the stream no longer holds it. Does not end `out`.
 */
export async function sendFileRange(path: string, out: Writable, start = 0, end = Number.POSITIVE_INFINITY): Promise<void> {
  const fh = await open(path, 'r')
  try {
    const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]
    let writing: Promise<void> | undefined
    let position = start
    for (let turn = 0; position <= end; turn++) {
      const buffer = buffers[turn % 2]!
      const { bytesRead } = await fh.read(buffer, 0, Math.min(CHUNK, end - position + 1), position)
      if (bytesRead === 0) break
      await writing
      writing = write(out, buffer.subarray(0, bytesRead))
      position += bytesRead
    }
    await writing
  } finally {
    await fh.close()
  }
}

function write(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.destroyed) return reject(new Error('the connection closed'))
    const onClose = (): void => reject(new Error('the connection closed'))
    out.once('close', onClose)
    out.write(chunk, (err) => {
      out.off('close', onClose)
      if (err) reject(err)
      else resolve()
    })
  })
}

