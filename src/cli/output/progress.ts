import type { Writable } from 'node:stream'
import type { JsonMessage } from '../../wire/types.ts'

/**
 * Renders a pull/push progress stream as docker does. On a terminal each layer keeps one line, redrawn in
 * place (its bar included); otherwise each status change is a new line and byte progress is left out.
 * An error line in the stream is thrown.
 */
export async function displayProgress(messages: AsyncIterable<JsonMessage>, out: Writable, tty: boolean): Promise<JsonMessage[]> {
  const lineOf = new Map<string, number>()
  let lines = 0
  const seen: JsonMessage[] = []
  for await (const m of messages) {
    if (m.errorDetail || m.error) throw new Error(m.errorDetail?.message ?? m.error)
    seen.push(m)
    if (m.status === undefined && m.stream === undefined) continue
    const hasBar = m.progressDetail?.current !== undefined
    if (!tty && hasBar) continue
    const text = m.stream !== undefined ? m.stream.replace(/\n$/, '') : `${m.id ? `${m.id}: ` : ''}${m.status}${tty && m.progress ? ` ${m.progress}` : ''}`
    if (!tty || !m.id) {
      out.write(`${text}\n`)
      lines++
      continue
    }
    const at = lineOf.get(m.id)
    if (at === undefined) {
      lineOf.set(m.id, lines)
      out.write(`${text}\n`)
      lines++
    } else {
      const up = lines - at
      out.write(`\x1b[${up}A\r\x1b[2K${text}\x1b[${up}B\r`)
    }
  }
  return seen
}
