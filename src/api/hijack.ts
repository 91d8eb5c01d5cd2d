import type { Duplex } from 'node:stream'
import type { RequestContext } from './context.ts'
import { versionAtLeast } from './context.ts'
import { commonHeaders } from './headers.ts'

export const multiplexedType = 'application/vnd.docker.multiplexed-stream'
export const rawType = 'application/vnd.docker.raw-stream'

/** Content type of attach/exec/logs output: multiplexed without TTY, raw with one; always raw before API 1.42. */
export function streamMediaType(ctx: RequestContext, tty: boolean): string {
  return !tty && versionAtLeast(ctx, '1.42') ? multiplexedType : rawType
}

/**
 * Takes over the connection for attach and exec: `101 UPGRADED` when the client asked for `Upgrade: tcp`,
 * otherwise the legacy `200 OK` followed by raw bytes. Returns the socket and any stdin bytes already read.
 */
export function hijack(ctx: RequestContext, mediaType: string): { socket: Duplex; head: Buffer } {
  const headers = Object.entries({ ...commonHeaders(), 'Content-Type': mediaType })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')
  if (ctx.upgrade) {
    ctx.upgrade.socket.write(`HTTP/1.1 101 UPGRADED\r\n${headers}Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n`)
    return ctx.upgrade
  }
  const socket = ctx.req.socket
  socket.write(`HTTP/1.1 200 OK\r\n${headers}\r\n`)
  return { socket, head: Buffer.alloc(0) }
}

/** Frames one chunk of a multiplexed stream: [stream, 0, 0, 0, size(uint32 BE)] + payload. */
export function frame(stream: 0 | 1 | 2, payload: Buffer): Buffer {
  const header = Buffer.alloc(8)
  header[0] = stream
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}
