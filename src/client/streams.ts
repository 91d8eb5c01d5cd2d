import type { Readable } from 'node:stream'

export type StreamChunk = { stream: 'stdout' | 'stderr'; data: Buffer }

/** Splits a multiplexed attach/logs stream into its frames; a raw (TTY) stream is all stdout. */
export async function* demux(source: AsyncIterable<Buffer> | Readable, multiplexed: boolean): AsyncGenerator<StreamChunk> {
  if (!multiplexed) {
    for await (const chunk of source as AsyncIterable<Buffer>) yield { stream: 'stdout', data: chunk }
    return
  }
  let buf: Buffer = Buffer.alloc(0)
  for await (const chunk of source as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4)
      if (buf.length < 8 + size) break
      const type = buf[0]
      const data = buf.subarray(8, 8 + size)
      buf = buf.subarray(8 + size)
      if (size > 0) yield { stream: type === 2 ? 'stderr' : 'stdout', data }
    }
  }
}

/** Reads an NDJSON progress stream object by object. */
export async function* jsonLines<T>(source: Readable): AsyncGenerator<T> {
  let carry = ''
  for await (const chunk of source as AsyncIterable<Buffer>) {
    carry += chunk.toString('utf8')
    let nl
    while ((nl = carry.indexOf('\n')) >= 0) {
      const line = carry.slice(0, nl).trim()
      carry = carry.slice(nl + 1)
      if (line) yield JSON.parse(line) as T
    }
  }
  if (carry.trim()) yield JSON.parse(carry) as T
}
