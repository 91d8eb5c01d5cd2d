import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import { type Socket, connect, createServer as createNetServer } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { type TestContext, test } from 'node:test'
import { type ExchangeRequest, type HttpResponse, exchange as exchangeOn } from './http-exchange.ts'

/** An exchange over a new connection to a unix socket. */
const exchange = (socketPath: string, req: ExchangeRequest): Promise<HttpResponse> => exchangeOn(() => connect(socketPath), { ...req, upgrade: false })
import { unixEndpoint } from './endpoint.ts'
import { ApiError, HttpTransport, readAll } from './http.ts'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** A node:http server on a unix socket of its own; what it received is kept. */
async function serve(t: TestContext, handler: Handler): Promise<{ socketPath: string; server: Server; bodies: string[]; heads: IncomingMessage[] }> {
  const dir = mkdtempSync('/tmp/cais-exchange-')
  const socketPath = join(dir, 'api.sock')
  const bodies: string[] = []
  const heads: IncomingMessage[] = []
  const server = createServer((req, res) => {
    heads.push(req)
    void readAll(req).then((b) => {
      bodies.push(b.toString())
      handler(req, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  t.after(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })
  return { socketPath, server, bodies, heads }
}

const text = async (res: HttpResponse): Promise<string> => (await readAll(res)).toString()

/** A server that answers each request with exactly `wire`, `piece` bytes at a time, then ends the connection. */
async function serveRaw(t: TestContext, wire: string, piece = wire.length): Promise<string> {
  const dir = mkdtempSync('/tmp/cais-exchange-')
  const socketPath = join(dir, 'raw.sock')
  const server = createNetServer((socket: Socket) => {
    socket.once('data', async () => {
      const bytes = Buffer.from(wire)
      for (let at = 0; at < bytes.length; at += piece) {
        socket.write(bytes.subarray(at, at + piece))
        await new Promise((r) => setImmediate(r))
      }
      socket.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  t.after(() => {
    server.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return socketPath
}

test('bodies framed by Content-Length, by chunks and by the end of the connection', async (t) => {
  const { socketPath } = await serve(t, (req, res) => {
    if (req.url === '/length') res.end('{"a":1}')
    else {
      // Written in pieces with no length: node sends them chunked, each piece a chunk.
      res.write('one,')
      setTimeout(() => {
        res.write('two,')
        res.end('three')
      }, 20)
    }
  })
  const length = await exchange(socketPath, { method: 'GET', path: '/length', headers: {} })
  assert.equal(length.statusCode, 200)
  assert.equal(length.headers['content-length'], '7')
  assert.equal(await text(length), '{"a":1}')
  const chunked = await exchange(socketPath, { method: 'GET', path: '/chunked', headers: {} })
  assert.equal(chunked.headers['transfer-encoding'], 'chunked')
  assert.equal(await text(chunked), 'one,two,three')
  const untilClose = await serveRaw(t, 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close', 3)
  assert.equal(await text(await exchange(untilClose, { method: 'GET', path: '/', headers: {} })), 'until close')
})

test('chunked framing split anywhere across reads decodes the same', async (t) => {
  // A byte at a time: chunk sizes in hex, one with an extension, then a trailer; a header given twice.
  const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Twice: a\r\nX-Twice: b\r\n\r\na;ext=1\r\n0123456789\r\n1\r\n!\r\n0\r\nTrailer: x\r\n\r\n'
  const res = await exchange(await serveRaw(t, wire, 1), { method: 'GET', path: '/', headers: {} })
  assert.equal(res.headers['x-twice'], 'a, b')
  assert.equal(await text(res), '0123456789!')
})

test('what is sent: the JSON body with its length, a stream chunked, and an empty POST', async (t) => {
  const { socketPath, bodies, heads } = await serve(t, (_req, res) => res.end())
  await readAll((await exchange(socketPath, { method: 'POST', path: '/json?x=1', headers: { Host: 'h' }, body: '{"é":1}' })))
  assert.equal(heads[0]!.url, '/json?x=1')
  assert.equal(heads[0]!.headers['content-length'], String(Buffer.byteLength('{"é":1}')))
  assert.equal(bodies[0], '{"é":1}')
  const big = Buffer.alloc(3 * 1024 * 1024, 'x')
  const stream = Readable.from([big.subarray(0, 1000), '', big.subarray(1000)])
  await readAll((await exchange(socketPath, { method: 'PUT', path: '/tar', headers: {}, stream })))
  assert.equal(heads[1]!.headers['transfer-encoding'], 'chunked')
  assert.equal(bodies[1]!.length, big.length)
  await readAll((await exchange(socketPath, { method: 'POST', path: '/start', headers: {} })))
  assert.equal(heads[2]!.headers['content-length'], '0')
  assert.equal(bodies[2], '')
})

test('no body for HEAD, 204 and 304, whatever the headers say', async (t) => {
  const { socketPath } = await serve(t, (req, res) => {
    if (req.url === '/head') res.writeHead(200, { 'Content-Length': '10', 'X-Stat': 'e30=' }).end()
    else res.writeHead(req.url === '/204' ? 204 : 304).end()
  })
  const head = await exchange(socketPath, { method: 'HEAD', path: '/head', headers: {} })
  assert.equal(head.headers['x-stat'], 'e30=')
  assert.equal(await text(head), '')
  assert.equal((await exchange(socketPath, { method: 'POST', path: '/204', headers: {} })).statusCode, 204)
  const notModified = await exchange(socketPath, { method: 'POST', path: '/304', headers: {} })
  assert.equal(notModified.statusCode, 304)
  assert.equal(await text(notModified), '')
})

test('an upgrade hands over the connection with what followed the head; a refused one is an answer', async (t) => {
  const { socketPath, server } = await serve(t, (_req, res) => res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"No such container: x"}'))
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello ')
    socket.on('data', (d) => socket.end(`echo:${d.toString()}`))
    assert.equal(req.headers['upgrade'], 'tcp')
  })
  const transport = new HttpTransport(unixEndpoint(socketPath), '1.50')
  const { socket, head, headers } = await transport.hijack('POST', '/containers/x/attach', { query: { stream: true } })
  assert.equal(headers['content-type'], 'application/vnd.docker.raw-stream')
  socket.write('typed')
  assert.equal(head.toString() + (await readAll(socket as unknown as Readable)).toString(), 'hello echo:typed')
  // The same request without the upgrade (the route answers an error): an ApiError with Docker's message.
  server.removeAllListeners('upgrade')
  server.on('upgrade', (_req: IncomingMessage, s: Socket) => s.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n{"message":"No such container: x"}'))
  await assert.rejects(transport.hijack('POST', '/containers/x/attach'), (err: unknown) => err instanceof ApiError && err.status === 404 && err.message === 'No such container: x')
  await assert.rejects(transport.json('GET', '/containers/x/json'), (err: unknown) => err instanceof ApiError && err.status === 404 && err.message === 'No such container: x')
})

test('a slow reader holds the server back; abort and close end a stream being read', async (t) => {
  let written = 0
  let serverSocketClosed = false
  const { socketPath } = await serve(t, (req, res) => {
    res.on('close', () => (serverSocketClosed = true))
    if (req.url === '/events') {
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.write('{"status":"start"}\n')
      return
    }
    // Writes 1 MiB pieces while the client takes them.
    const piece = Buffer.alloc(1024 * 1024, 'y')
    const pump = (): void => {
      while (written < 64 * 1024 * 1024 && res.write(piece)) written += piece.length
      if (written < 64 * 1024 * 1024) res.once('drain', () => ((written += piece.length), pump()))
      else res.end()
    }
    pump()
  })
  const res = (await exchange(socketPath, { method: 'GET', path: '/big', headers: {} }))
  await new Promise((r) => setTimeout(r, 200))
  assert.ok(written < 16 * 1024 * 1024, `the server got ahead of a reader that read nothing: ${written} bytes`)
  let read = 0
  for await (const c of res as AsyncIterable<Buffer>) read += c.length
  assert.equal(read, 64 * 1024 * 1024)

  const ac = new AbortController()
  const events = (await exchange(socketPath, { method: 'GET', path: '/events', headers: {}, signal: ac.signal }))
  const first = await new Promise<string>((resolve) => events.once('data', (d: Buffer) => resolve(d.toString())))
  assert.equal(first, '{"status":"start"}\n')
  serverSocketClosed = false
  ac.abort()
  await assert.rejects(readAll(events), { name: 'AbortError' })
  await assert.rejects(exchange(socketPath, { method: 'GET', path: '/events', headers: {}, signal: ac.signal }), { name: 'AbortError' })

  const transport = new HttpTransport(unixEndpoint(socketPath), undefined)
  const stream = await transport.send('GET', '/events')
  stream.resume()
  transport.close()
  await new Promise((r) => stream.once('close', r))
  for (let i = 0; i < 50 && !serverSocketClosed; i++) await new Promise((r) => setTimeout(r, 10))
  assert.ok(serverSocketClosed, 'close() ended the connection')
})

test('no daemon: the error says where the client looked', async () => {
  const transport = new HttpTransport(unixEndpoint('/tmp/cais-exchange-none/api.sock'), '1.50')
  await assert.rejects(transport.json('GET', '/_ping'), {
    message: 'Cannot connect to the cais daemon at unix:///tmp/cais-exchange-none/api.sock. Is the cais daemon running?',
  })
})

test('a connection that ends before the answer, or in the middle of its body, is an error', async (t) => {
  const { socketPath, server } = await serve(t, () => {})
  server.removeAllListeners('request')
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/hangup') req.socket.destroy()
    else {
      res.writeHead(200, { 'Content-Length': '100' })
      res.write('only part')
      setTimeout(() => req.socket.destroy(), 20)
    }
  })
  await assert.rejects(exchange(socketPath, { method: 'GET', path: '/hangup', headers: {} }), { message: 'socket hang up' })
  const partial = (await exchange(socketPath, { method: 'GET', path: '/partial', headers: {} }))
  await assert.rejects(readAll(partial), { code: 'ECONNRESET' })
})
