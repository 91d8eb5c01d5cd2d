import { pipeline } from 'node:stream/promises'
import type { ContainerService, WaitCondition } from '../../containers/service.ts'
import type { LogEntry } from '../../containers/logs.ts'
import { familiarString, parseReference, withDefaultTag } from '../../images/reference.ts'
import { CaisError, invalid, notFound } from '../../lib/errors.ts'
import { parseFilters } from '../../lib/filters.ts'
import { parseTimestamp } from '../../lib/time.ts'
import { parsePlatform } from '../../lib/platform.ts'
import type { ContainerCreateBody } from '../../wire/types.ts'
import { type RequestContext, bodyStream, queryBool, queryInt, readBody, readJson, sendJson, sendStatus, versionAtLeast } from '../context.ts'
import { hijack, streamMediaType } from '../hijack.ts'
import { DetachDetector, parseDetachKeys } from '../detach-keys.ts'
import type { Duplex, Writable } from 'node:stream'
import type { Routes } from '../router.ts'
import { checkCreateBodyTypes, checkHostConfigTypes } from './body-types.ts'
import { applyCreateGates, applyInspectGates, applyUpdateGates } from './version-gates.ts'
import { packDirectory } from '../../lib/tar.ts'
import { type PathStat, readArchive, statPath, writeArchive } from '../../containers/archive.ts'

export function containerRoutes(routes: Routes, d: { containers: ContainerService }): void {
  const c = d.containers

  routes.get('/containers/json', async (ctx) => {
    const filters = parseFilters(ctx.query.get('filters') ?? undefined, [
      'ancestor', 'before', 'expose', 'exited', 'health', 'id', 'isolation', 'is-task', 'label', 'name', 'network', 'publish', 'since', 'status', 'volume',
    ])
    const statuses = filters.get('status') ?? []
    for (const s of statuses) {
      if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(s)) {
        throw invalid(`invalid filter 'status=${s}'`)
      }
    }
    const list = c.list({ all: queryBool(ctx.query, 'all'), limit: queryInt(ctx.query, 'limit'), filters })
    if (queryBool(ctx.query, 'size')) for (const entry of list) Object.assign(entry, await c.sizes(entry.Id))
    // The image's manifest descriptor came with 1.48.
    if (!versionAtLeast(ctx, '1.48')) for (const entry of list) delete entry.ImageManifestDescriptor
    sendJson(ctx, 200, list)
  })

  routes.post('/containers/prune', async (ctx) => {
    const filters = parseFilters(ctx.query.get('filters') ?? undefined, ['until', 'label', 'label!'])
    sendJson(ctx, 200, await c.prune(filters))
  })

  routes.get('/containers/{id}/export', async (ctx) => {
    await c.withRootfs(ctx.params['id']!, async (merged) => {
      const res = ctx.res!
      res.writeHead(200, { 'Content-Type': 'application/x-tar' })
      await pipeline(packDirectory(merged, { signal: ctx.signal }), res)
    })
  })

  const statHeader = (stat: PathStat): string => Buffer.from(JSON.stringify(stat)).toString('base64')
  const archivePath = (ctx: RequestContext): string => {
    const path = ctx.query.get('path')
    if (!path) throw invalid('path is required')
    return path
  }
  routes.head('/containers/{id}/archive', async (ctx) => {
    const stat = await c.withFilesystem(ctx.params['id']!, (fs) => statPath(fs, archivePath(ctx)))
    ctx.res!.writeHead(200, { 'X-Docker-Container-Path-Stat': statHeader(stat) }).end()
  })
  routes.get('/containers/{id}/archive', async (ctx) => {
    await c.withFilesystem(ctx.params['id']!, async (fs) => {
      const { stat, tar } = await readArchive(fs, archivePath(ctx))
      const res = ctx.res!
      res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': statHeader(stat) })
      await pipeline(tar, res)
    })
  })
  routes.put('/containers/{id}/archive', async (ctx) => {
    await c.withFilesystem(ctx.params['id']!, (fs) => writeArchive(fs, archivePath(ctx), bodyStream(ctx.req), { keepOwner: queryBool(ctx.query, 'copyUIDGID') }))
    sendStatus(ctx, 200)
  })

  routes.post('/containers/{id}/update', async (ctx) => {
    const body = (await readJson<Record<string, unknown>>(ctx.req)) ?? {}
    checkHostConfigTypes(body)
    applyUpdateGates(body, ctx.version)
    sendJson(ctx, 200, await c.update(ctx.params['id']!, body))
  })

  routes.get('/containers/{id}/stats', async (ctx) => {
    const id = c.get(ctx.params['id']!).id
    const stream = ctx.query.get('stream') === null ? true : queryBool(ctx.query, 'stream')
    // `one-shot` came with API 1.41; an older client always gets the two samples.
    const oneShot = versionAtLeast(ctx, '1.41') && queryBool(ctx.query, 'one-shot')
    const res = ctx.res!
    res.writeHead(200, { 'Content-Type': 'application/json' })
    let previous = await c.stats(id)
    if (!stream) {
      // Two samples a second apart, so CPU use can be computed from the second (Docker's non-stream answer).
      if (!oneShot && c.get(id).state.Running) {
        await new Promise((r) => setTimeout(r, 1000))
        previous = await c.stats(id, previous)
      }
      res.end(JSON.stringify(previous) + '\n')
      return
    }
    res.write(JSON.stringify(previous) + '\n')
    while (!ctx.signal.aborted) {
      await new Promise((r) => setTimeout(r, 1000))
      if (ctx.signal.aborted) break
      try {
        previous = await c.stats(id, previous)
      } catch {
        break // removed
      }
      res.write(JSON.stringify(previous) + '\n')
    }
    res.end()
  })

  routes.get('/containers/{id}/changes', async (ctx) => sendJson(ctx, 200, await c.changes(ctx.params['id']!)))

  routes.get('/containers/{id}/top', async (ctx) => sendJson(ctx, 200, await c.top(ctx.params['id']!, ctx.query.get('ps_args') || '-ef')))

  routes.post('/containers/create', async (ctx) => {
    const body = await readJson<ContainerCreateBody>(ctx.req)
    if (!body) throw invalid('config cannot be empty in order to create a container')
    checkCreateBodyTypes(body)
    const warnings = applyCreateGates(body, ctx.version)
    // `platform` (os/arch[/variant]) came with API 1.41.
    const platformText = versionAtLeast(ctx, '1.41') ? ctx.query.get('platform') : null
    const platform = platformText ? parsePlatform(platformText) : undefined
    try {
      const created = await c.create(body, ctx.query.get('name') ?? undefined, platform)
      sendJson(ctx, 201, { ...created, Warnings: [...warnings, ...created.Warnings] })
    } catch (err) {
      // Docker names the image as the CLI will pull it: `No such image: busybox:latest`.
      if (err instanceof CaisError && err.kind === 'not-found' && err.message.startsWith('No such image') && typeof body.Image === 'string') {
        let name = body.Image
        try {
          name = familiarString(withDefaultTag(parseReference(body.Image)))
        } catch {
          // keep what was asked
        }
        throw new CaisError('not-found', `No such image: ${name}`, { cause: err })
      }
      throw err
    }
  })

  routes.get('/containers/{id}/json', async (ctx) => {
    const view = applyInspectGates(c.inspect(ctx.params['id']!), ctx.version)
    sendJson(ctx, 200, queryBool(ctx.query, 'size') ? { ...view, ...(await c.sizes(view.Id)) } : view)
  })

  routes.post('/containers/{id}/start', async (ctx) => {
    const body = await readBody(ctx.req)
    if (body.length > 7) throw invalid('starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24')
    const started = await c.start(ctx.params['id']!)
    sendStatus(ctx, started ? 204 : 304)
  })

  routes.post('/containers/{id}/stop', async (ctx) => {
    const stopped = await c.stop(ctx.params['id']!, { timeoutSec: queryInt(ctx.query, 't'), signal: signalParam(ctx) })
    sendStatus(ctx, stopped ? 204 : 304)
  })

  routes.post('/containers/{id}/restart', async (ctx) => {
    await c.restart(ctx.params['id']!, { timeoutSec: queryInt(ctx.query, 't'), signal: signalParam(ctx) })
    sendStatus(ctx, 204)
  })

  routes.post('/containers/{id}/kill', async (ctx) => {
    await c.kill(ctx.params['id']!, ctx.query.get('signal') || 'SIGKILL')
    sendStatus(ctx, 204)
  })

  routes.post('/containers/{id}/pause', async (ctx) => {
    await c.pause(ctx.params['id']!)
    sendStatus(ctx, 204)
  })

  routes.post('/containers/{id}/unpause', async (ctx) => {
    await c.unpause(ctx.params['id']!)
    sendStatus(ctx, 204)
  })

  routes.post('/containers/{id}/rename', async (ctx) => {
    await c.rename(ctx.params['id']!, ctx.query.get('name') ?? '')
    sendStatus(ctx, 204)
  })

  // `docker rm --link /parent/alias`: the name given is the link's, which holds a slash.
  routes.delete('/containers/{parent}/{alias}', async (ctx) => {
    if (!queryBool(ctx.query, 'link')) throw notFound(`No such container: ${ctx.params['parent']}/${ctx.params['alias']}`)
    await c.removeLink(ctx.params['parent']!, ctx.params['alias']!)
    sendStatus(ctx, 204)
  })

  routes.delete('/containers/{id}', async (ctx) => {
    await c.remove(ctx.params['id']!, { force: queryBool(ctx.query, 'force'), volumes: queryBool(ctx.query, 'v') })
    sendStatus(ctx, 204)
  })

  routes.post('/containers/{id}/wait', async (ctx) => {
    // Conditions, and headers sent before the wait ends, came with API 1.30; an older client waits for the stop.
    const conditions = versionAtLeast(ctx, '1.30')
    const raw = (conditions && ctx.query.get('condition')) || 'not-running'
    if (!['not-running', 'next-exit', 'removed'].includes(raw)) throw invalid(`invalid condition: "${raw}"`)
    const result = c.wait(ctx.params['id']!, raw as WaitCondition, ctx.signal)
    if (!conditions) {
      sendJson(ctx, 200, await result)
      return
    }
    // The CLI blocks on the response headers before it starts the container: flush them now.
    const res = ctx.res!
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.flushHeaders()
    try {
      res.end(JSON.stringify(await result) + '\n')
    } catch {
      res.destroy()
    }
  })

  routes.post('/containers/{id}/resize', async (ctx) => {
    c.get(ctx.params['id']!)
    const size: number[] = []
    for (const k of ['h', 'w']) {
      const v = ctx.query.get(k) ?? '0'
      if (!/^\d+$/.test(v)) throw invalid(`strconv.Atoi: parsing "${v}": invalid syntax`)
      size.push(Number(v))
    }
    await c.resize(ctx.params['id']!, size[0]!, size[1]!)
    sendStatus(ctx, 200)
  })

  routes.get('/containers/{id}/logs', async (ctx) => {
    const q = ctx.query
    const stdout = queryBool(q, 'stdout')
    const stderr = queryBool(q, 'stderr')
    if (!stdout && !stderr) throw invalid('Bad parameters: you must choose at least one stream')
    const tailRaw = q.get('tail')
    const tail = tailRaw === null || tailRaw === '' || tailRaw === 'all' ? undefined : Number.parseInt(tailRaw, 10)
    if (tail !== undefined && Number.isNaN(tail)) throw invalid(`invalid value for tail: ${tailRaw}`)
    const since = q.get('since') ? parseTimestamp(q.get('since')!) : undefined
    const until = q.get('until') ? parseTimestamp(q.get('until')!) : undefined
    const toNanos = (ms: number | undefined, raw: string | null): bigint | undefined => {
      if (ms === undefined || raw === null) return undefined
      // keep the nanoseconds a `sec.nanos` value carries
      const m = /^(\d+)\.(\d+)$/.exec(raw)
      if (m) return BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!.padEnd(9, '0').slice(0, 9))
      return BigInt(Math.round(ms)) * 1_000_000n
    }
    const { tty, entries, attributes } = c.logs(ctx.params['id']!, {
      times: queryBool(q, 'timestamps'),
      follow: queryBool(q, 'follow'),
      tail,
      sinceNanos: since && since > 0 ? toNanos(since, q.get('since')) : undefined,
      untilNanos: toNanos(until, q.get('until')),
      signal: ctx.signal,
    })
    const res = ctx.res!
    res.writeHead(200, { 'Content-Type': streamMediaType(ctx, tty) })
    res.flushHeaders()
    const timestamps = queryBool(q, 'timestamps')
    // --details: the line's attributes, sorted by name, and a space before its text (after the time), as Docker's.
    const details = queryBool(q, 'details')
      ? Object.keys(attributes)
          .sort()
          .map((k) => `${k}=${attributes[k]}`)
          .join(',') + ' '
      : ''
    await writeEntries(entries, tty, { stdout, stderr, timestamps, details, mergeFrames: !queryBool(q, 'follow') }, res)
    res.end()
  })

  routes.post('/containers/{id}/attach', async (ctx) => {
    const q = ctx.query
    const rec = c.get(ctx.params['id']!)
    const stdout = queryBool(q, 'stdout')
    const stderr = queryBool(q, 'stderr')
    const stream = queryBool(q, 'stream')
    const logs = queryBool(q, 'logs')
    if (!stream && !logs) throw invalid('Bad parameters: you must choose at least one stream')
    const detachKeys = parseDetachKeys(q.get('detachKeys'))
    const output = new AbortController()
    ctx.signal.addEventListener('abort', () => output.abort(), { once: true })
    const { tty, entries } = await c.attachOutput(rec.id, { logs, stream, signal: output.signal })
    const { socket, head } = hijack(ctx, streamMediaType(ctx, tty))
    socket.on('error', () => {})
    if (queryBool(q, 'stdin') && rec.config.OpenStdin) {
      // As Docker: the end of the client's input ends the container's stdin for `run -i` (StdinOnce, no TTY),
      // and output follows until the exit; otherwise stdin stays open and the attach itself ends there.
      const closesStdin = rec.config.StdinOnce && !rec.config.Tty
      relayStdin(c, rec.id, socket, head, detachKeys, ctx.signal, {
        onInputEnd: () => {
          if (!closesStdin) output.abort()
        },
        onDetach: () => output.abort(),
      })
    } else socket.on('data', () => {}) // no stdin wanted: read and drop; the client may half-close its side
    await writeEntries(entries, tty, { stdout, stderr, timestamps: false }, socket)
    socket.end()
  })
}

/**
 * Copies what the client types into the container's stdin, from the moment the container runs. The client's
 * end of input (a half-close) ends the container's stdin; the detach keys end the attach and leave it running.
 */
function relayStdin(
  c: ContainerService,
  id: string,
  socket: Duplex,
  head: Buffer,
  keys: number[],
  signal: AbortSignal,
  on: { onInputEnd(): void; onDetach(): void },
): void {
  const detector = new DetachDetector(keys)
  const held: Buffer[] = head.length > 0 ? [head] : []
  let input: Writable | undefined
  let ended = false
  const deliver = (chunk: Buffer): void => {
    const { pass, detached } = detector.feed(chunk)
    if (pass.length > 0) input!.write(pass)
    if (detached) {
      socket.removeAllListeners('data')
      input!.end()
      on.onDetach()
    }
  }
  socket.on('data', (chunk: Buffer) => (input ? deliver(chunk) : held.push(chunk)))
  socket.on('end', () => {
    ended = true
    input?.end()
    on.onInputEnd()
  })
  c.openStdin(id, signal).then(
    (stdin) => {
      if (!stdin) return
      input = stdin.input
      for (const chunk of held.splice(0)) deliver(chunk)
      if (ended) input.end()
    },
    () => {}, // the client left (or the container went) before it started
  )
}

/**
 * Writes log entries as frames (raw for a TTY). Waits for the client whenever its buffer is full, so a large log
 * streams at the client's pace instead of piling up in memory. With `mergeFrames`, consecutive lines of one stream
 * share a frame (up to 256 kB): the same bytes, but a client demultiplexes a few hundred frames instead of a
 * million. Followers (attach, `logs -f`) get a frame per line, as moby sends them.
 */
async function writeEntries(
  batches: AsyncGenerator<LogEntry[]>,
  tty: boolean,
  opts: { stdout: boolean; stderr: boolean; timestamps: boolean; details?: string; mergeFrames?: boolean },
  out: Writable,
): Promise<void> {
  // Each batch goes out as buffers of up to 256 kB, frame headers and text copied in place, so a follower sees
  // a line as soon as it is read and a large log costs a few copies per megabyte, not a write per line.
  const limit = 256 * 1024
  const drained = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        out.off('drain', done)
        out.off('close', done)
        resolve()
      }
      out.once('drain', done)
      out.once('close', done)
    })
  const header = tty ? 0 : 8
  // One output buffer, used again once the socket has taken its bytes: a fresh 256 kB per write would be
  // garbage by the hundred (RSS in hundreds of MB after one large `docker logs`) until V8's next full GC.
  let buf = Buffer.alloc(0)
  const written = (chunk: Buffer): Promise<void> =>
    new Promise<void>((resolve) => {
      if (!out.write(chunk, () => resolve())) void drained().then(resolve)
    })
  const wanted = (e: LogEntry): boolean => (e.stream === 'stdout' ? opts.stdout : opts.stderr)
  const stampOf = (e: LogEntry): string => (opts.timestamps ? `${e.time} ` : '') + (opts.details ?? '')
  for await (const entries of batches) {
    // Sized for the batch, up to the limit: a follower's one line does not take 256 kB.
    let bytes = 0
    for (let i = 0; i < entries.length && bytes < limit; i++) bytes += header + Buffer.byteLength(stampOf(entries[i]!)) + entries[i]!.end - entries[i]!.start
    if (buf.length < Math.min(limit, bytes)) buf = Buffer.allocUnsafe(Math.min(limit, bytes))
    let at = 0
    /** Where the frame that the next line of the same stream may join begins; -1 for none. */
    let frame = -1
    let frameStream = 0
    const send = async (): Promise<void> => {
      if (at === 0) return
      await written(buf.subarray(0, at))
      at = 0
      frame = -1
    }
    for (const e of entries) {
      if (!wanted(e)) continue
      const stamp = stampOf(e)
      const length = Buffer.byteLength(stamp) + e.end - e.start
      const stream = e.stream === 'stdout' ? 1 : 2
      const joins = !tty && opts.mergeFrames === true && frame >= 0 && frameStream === stream
      const size = (joins ? 0 : header) + length
      if (at + size > buf.length) {
        await send()
        if (out.destroyed) return
        if (header + length > buf.length) buf = Buffer.allocUnsafe(header + length)
      }
      if (!tty && !joins) {
        frame = at
        frameStream = stream
        buf[at] = stream
        buf[at + 1] = 0
        buf[at + 2] = 0
        buf[at + 3] = 0
        buf.writeUInt32BE(0, at + 4)
        at += header
      }
      if (stamp) at += buf.write(stamp, at, 'utf8')
      at += e.bytes.copy(buf, at, e.start, e.end)
      if (!tty) buf.writeUInt32BE(at - frame - header, frame + 4)
    }
    await send()
    if (out.destroyed) return
  }
}

/** The `signal` of a stop or restart, which came with API 1.42: older clients get the container's stop signal. */
const signalParam = (ctx: RequestContext): string | undefined => (versionAtLeast(ctx, '1.42') ? (ctx.query.get('signal') ?? undefined) : undefined)
