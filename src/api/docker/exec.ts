import { PassThrough } from 'node:stream'
import { consoleSizeOf } from '../../containers/create-config.ts'
import type { ExecConfig, ExecService } from '../../containers/exec.ts'
import { invalid, messageOf } from '../../lib/errors.ts'
import { readJson, sendJson, sendStatus, versionAtLeast } from '../context.ts'
import { DetachDetector, parseDetachKeys } from '../detach-keys.ts'
import { frame, hijack, streamMediaType } from '../hijack.ts'
import type { Routes } from '../router.ts'
import type { RequestContext } from '../context.ts'

/** Reads the JSON body of a hijacked (Upgrade) request from its socket, then leaves the rest as stdin. */
async function upgradeBody(ctx: RequestContext): Promise<{ body: unknown; rest: Buffer }> {
  const length = Number(ctx.req.headers['content-length'] ?? 0)
  let buf = ctx.upgrade!.head
  const socket = ctx.upgrade!.socket
  while (buf.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (d: Buffer): void => {
        socket.off('end', onEnd)
        resolve(d)
      }
      const onEnd = (): void => {
        socket.off('data', onData)
        resolve(null)
      }
      socket.once('data', onData)
      socket.once('end', onEnd)
    })
    if (!chunk) break
    buf = Buffer.concat([buf, chunk])
  }
  socket.pause()
  const text = buf.subarray(0, length).toString('utf8')
  let body: unknown = {}
  if (text.trim()) {
    try {
      body = JSON.parse(text)
    } catch (err) {
      throw invalid(`invalid JSON: ${(err as Error).message}`, err)
    }
  }
  return { body, rest: buf.subarray(length) }
}

interface ExecStartBody {
  Detach?: boolean
  Tty?: boolean
  /** `[height, width]`. */
  ConsoleSize?: [number, number] | null
}

export function execRoutes(routes: Routes, d: { execs: ExecService }): void {
  routes.post('/containers/{id}/exec', async (ctx) => {
    const body = await readJson<ExecConfig>(ctx.req)
    if (!body) throw invalid('No exec command specified')
    parseDetachKeys(body.DetachKeys ?? null)
    sendJson(ctx, 201, { Id: d.execs.create(ctx.params['id']!, body) })
  })

  routes.get('/exec/{id}/json', async (ctx) => sendJson(ctx, 200, d.execs.inspect(ctx.params['id']!)))

  routes.post('/exec/{id}/resize', async (ctx) => {
    const [h, w] = ['h', 'w'].map((k) => {
      const v = ctx.query.get(k) ?? '0'
      if (!/^\d+$/.test(v)) throw invalid(`strconv.Atoi: parsing "${v}": invalid syntax`)
      return Number(v)
    }) as [number, number]
    await d.execs.resize(ctx.params['id']!, h, w)
    sendStatus(ctx, 200)
  })

  routes.post('/exec/{id}/start', async (ctx) => {
    const id = ctx.params['id']!
    let body: ExecStartBody
    let rest: Buffer = Buffer.alloc(0)
    if (ctx.upgrade) ({ body, rest } = (await upgradeBody(ctx)) as { body: ExecStartBody; rest: Buffer })
    else body = (await readJson<ExecStartBody>(ctx.req)) ?? {}
    const exec = d.execs.validateStart(id)
    // The start's size (API 1.42 and later) is the one the process gets, as Docker's.
    const size = versionAtLeast(ctx, '1.42') ? consoleSizeOf(body.ConsoleSize) : undefined
    if (size) await d.execs.resize(id, size.height, size.width)
    if (body.Detach) {
      void d.execs.start(id, { output: () => {} }).catch((err: unknown) => ctx.log.warn('detached exec failed', { err }))
      if (ctx.res) sendStatus(ctx, 200)
      else ctx.upgrade!.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
      return
    }
    // The stream is framed unless the start asks for a TTY, as Docker's: it follows the start's Tty (which the
    // docker CLI sets to the exec's), not the exec's own.
    const tty = body.Tty === true
    const { socket } = hijack(ctx, streamMediaType(ctx, tty))
    socket.on('error', () => {})
    let stdin: PassThrough | undefined
    // The detach keys (the exec's own, else ctrl-p ctrl-q) end the client's stream and leave the process running.
    let detach: () => void = () => {}
    const detached = new Promise<void>((resolve) => (detach = resolve))
    if (exec.config.AttachStdin) {
      const input = new PassThrough()
      stdin = input
      const detector = new DetachDetector(parseDetachKeys(exec.config.DetachKeys || null))
      const deliver = (chunk: Buffer): void => {
        const { pass, detached: done } = detector.feed(chunk)
        if (pass.length > 0) input.write(pass)
        if (done) {
          // Detached: the process keeps its stdin open (the client's closing no longer ends it) and runs on.
          socket.removeAllListeners('data')
          socket.removeListener('end', endInput)
          socket.on('data', () => {})
          detach()
        }
      }
      const endInput = (): void => {
        input.end()
      }
      if (rest.length > 0) deliver(rest)
      socket.on('data', deliver)
      socket.on('end', endInput)
      socket.resume()
    } else {
      socket.on('data', () => {})
      socket.resume()
    }
    const run = d.execs
      .start(id, {
        stdin,
        output: (stream, chunk) => {
          if (socket.writable) socket.write(tty ? chunk : frame(stream === 'stdout' ? 1 : 2, chunk))
        },
      })
      .catch((err: unknown) => {
        // The answer is already the stream: an exec that could not start says why in it, on stdout, as Docker's.
        const message = Buffer.from(`${messageOf(err)}\r\n`)
        if (socket.writable) socket.write(tty ? message : frame(1, message))
        ctx.log.info('exec failed to start', { exec: id, err: messageOf(err) })
      })
    await Promise.race([run, detached])
    socket.end()
  })
}
