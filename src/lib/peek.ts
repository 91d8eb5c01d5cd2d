import { PassThrough, type Readable } from 'node:stream'

/** The first `atLeast` bytes of a stream (fewer if it ends first), and a stream that still yields all of it. */
export async function peek(stream: Readable, atLeast: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = []
  let size = 0
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  while (size < atLeast) {
    const next = await iterator.next()
    if (next.done) break
    const chunk = Buffer.from(next.value)
    chunks.push(chunk)
    size += chunk.length
  }
  const head = Buffer.concat(chunks)
  const rest = new PassThrough()
  rest.write(head)
  void (async () => {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      if (!rest.write(next.value)) await new Promise((r) => rest.once('drain', r))
    }
    rest.end()
  })().catch((err: unknown) => rest.destroy(err as Error))
  return { head, stream: rest }
}
