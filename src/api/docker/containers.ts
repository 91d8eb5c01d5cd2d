import { pipeline } from 'node:stream/promises'
import type { ContainerService, WaitCondition } from '../../containers/service.ts'
import type { LogEntry } from '../../containers/logs.ts'
import { familiarString, parseReference, withDefaultTag } from '../../images/reference.ts'
import { CaisError, invalid } from '../../lib/errors.ts'
import { parseFilters } from '../../lib/filters.ts'
import { parseTimestamp } from '../../lib/time.ts'
import type { ContainerCreateBody } from '../../wire/types.ts'
import { type RequestContext, queryBool, queryInt, readBody, readJson, sendJson, sendStatus } from '../context.ts'
import { hijack, streamMediaType } from '../hijack.ts'
import { DetachDetector, parseDetachKeys } from '../detach-keys.ts'
import type { Duplex, Writable } from 'node:stream'
import type { Routes } from '../router.ts'
import { packDirectory } from '../../snapshots/pack-tar.ts'
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
    sendJson(ctx, 200, c.list({ all: queryBool(ctx.query, 'all'), limit: queryInt(ctx.query, 'limit'), filters }))
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
    const rec = c.get(ctx.params['id']!)
    if (rec.hostConfig.ReadonlyRootfs) throw new CaisError('forbidden', 'container rootfs is marked read-only')
    await c.withFilesystem(rec.id, (fs) => writeArchive(fs, archivePath(ctx), ctx.req, { keepOwner: queryBool(ctx.query, 'copyUIDGID') }))
    sendStatus(ctx, 200)
  })

  routes.post('/containers/{id}/update', async (ctx) => {
    const body = (await readJson<Record<string, unknown>>(ctx.req)) ?? {}
    sendJson(ctx, 200, await c.update(ctx.params['id']!, body))
  })

  routes.get('/containers/{id}/stats', async (ctx) => {
    const id = c.get(ctx.params['id']!).id
    const stream = ctx.query.get('stream') === null ? true : queryBool(ctx.query, 'stream')
    const oneShot = queryBool(ctx.query, 'one-shot')
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
    try {
      sendJson(ctx, 201, await c.create(body, ctx.query.get('name') ?? undefined))
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

  routes.get('/containers/{id}/json', async (ctx) => sendJson(ctx, 200, c.inspect(ctx.params['id']!)))

  routes.post('/containers/{id}/start', async (ctx) => {
    const body = await readBody(ctx.req)
    if (body.length > 7) throw invalid('starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24')
    const started = await c.start(ctx.params['id']!)
    sendStatus(ctx, started ? 204 : 304)
  })

  routes.post('/containers/{id}/stop', async (ctx) => {
    const stopped = await c.stop(ctx.params['id']!, { timeoutSec: queryInt(ctx.query, 't'), signal: ctx.query.get('signal') ?? undefined })
    sendStatus(ctx, stopped ? 204 : 304)
  })

  routes.post('/containers/{id}/restart', async (ctx) => {
    await c.restart(ctx.params['id']!, { timeoutSec: queryInt(ctx.query, 't'), signal: ctx.query.get('signal') ?? undefined })
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

  routes.delete('/containers/{id}', async (ctx) => {
    await c.remove(ctx.params['id']!, { force: queryBool(ctx.query, 'force'), volumes: queryBool(ctx.query, 'v') })
    sendStatus(ctx, 204)
  })

  routes.post('/containers/{id}/wait', async (ctx) => {
    const raw = ctx.query.get('condition') || 'not-running'
    if (!['not-running', 'next-exit', 'removed'].includes(raw)) throw invalid(`invalid condition: "${raw}"`)
    const result = c.wait(ctx.params['id']!, raw as WaitCondition, ctx.signal)
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
    const { tty, entries } = c.logs(ctx.params['id']!, {
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
    await writeEntries(entries, tty, { stdout, stderr, timestamps }, res)
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
    const { tty, entries } = c.attachOutput(rec.id, { logs, stream, signal: output.signal })
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
 * streams at the client's pace instead of piling up in memory.
 */
async function writeEntries(
  entries: AsyncGenerator<LogEntry>,
  tty: boolean,
  opts: { stdout: boolean; stderr: boolean; timestamps: boolean },
  out: Writable,
): Promise<void> {
  // Entries are gathered and written as one buffer of up to 256 kB, frame headers and text laid out in place;
  // what is gathered goes out as soon as the reader waits for more (setImmediate runs only then), so a follower
  // sees each line at once.
  let texts: Array<[1 | 2, string]> = []
  let bytes = 0
  let scheduled = false
  const flush = (): boolean => {
    scheduled = false
    if (texts.length === 0 || out.destroyed) return true
    const buf = Buffer.allocUnsafe(bytes + (tty ? 0 : 8 * texts.length))
    let at = 0
    for (const [stream, text] of texts) {
      if (tty) {
        at += buf.write(text, at)
        continue
      }
      const n = buf.write(text, at + 8)
      buf[at] = stream
      buf[at + 1] = 0
      buf[at + 2] = 0
      buf[at + 3] = 0
      buf.writeUInt32BE(n, at + 4)
      at += 8 + n
    }
    texts = []
    bytes = 0
    return out.write(buf.subarray(0, at))
  }
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
  for await (const e of entries) {
    if (e.stream === 'stdout' ? !opts.stdout : !opts.stderr) continue
    const text = opts.timestamps ? `${e.time} ${e.line}` : e.line
    texts.push([e.stream === 'stdout' ? 1 : 2, text])
    bytes += Buffer.byteLength(text)
    if (bytes >= 256 * 1024) {
      if (!flush() && !out.destroyed) await drained()
    } else if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
    if (out.destroyed) return
  }
  flush()
}

