// Drives random and mutated requests at every route of a running caisd (fast-check, seeded): bodies, headers,
// query strings, path parameters with traversal, tar archives with `..`, absolute names and symlinks, broken
// chunked encodings, half-closed and slow connections. No request reaches outside the machine: routes that would
// contact a registry or fetch a URL (pull, push, auth, search, remote builds) are left out, builds start FROM the
// local image, and containers the fuzzer creates mount no host path. Used by scripts/fuzz-api.ts (the full run)
// and by test/integration/fuzz.test.ts (a short slice).
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import fc from 'fast-check'

export interface FuzzOptions {
  socket: string
  requests: number
  seed: number
  concurrency?: number
  /** Files that must never appear: where the traversal entries point. */
  canaries: string[]
  progress?: (done: number) => void
}

export interface FuzzReport {
  sent: number
  byStatus: Record<string, number>
  routes: number
  /** Requests the daemon did not answer within the time limit (streams excepted). */
  hung: string[]
  /** Well-formed requests whose connection closed with no answer. */
  unanswered: string[]
  /** Answers in the 5xx range, with their request: each is a bug to look at. */
  serverErrors: string[]
  escapes: string[]
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE'

/** Every route the fuzzer may call, `{}` for a parameter. */
export const ROUTES: Array<[Method, string]> = [
  ['GET', '/_ping'], ['HEAD', '/_ping'], ['GET', '/version'], ['GET', '/info'], ['GET', '/system/df'], ['GET', '/events'],
  ['POST', '/containers/create'], ['GET', '/containers/json'], ['GET', '/containers/{}/json'], ['POST', '/containers/{}/start'],
  ['POST', '/containers/{}/stop'], ['POST', '/containers/{}/restart'], ['POST', '/containers/{}/kill'], ['DELETE', '/containers/{}'],
  ['GET', '/containers/{}/logs'], ['GET', '/containers/{}/top'], ['GET', '/containers/{}/changes'], ['GET', '/containers/{}/export'],
  ['GET', '/containers/{}/stats'], ['POST', '/containers/{}/resize'], ['POST', '/containers/{}/update'], ['POST', '/containers/{}/rename'],
  ['POST', '/containers/{}/pause'], ['POST', '/containers/{}/unpause'], ['POST', '/containers/{}/wait'], ['GET', '/containers/{}/archive'],
  ['HEAD', '/containers/{}/archive'], ['PUT', '/containers/{}/archive'], ['POST', '/containers/prune'], ['POST', '/containers/{}/exec'],
  ['POST', '/containers/{}/attach'], ['POST', '/exec/{}/start'], ['GET', '/exec/{}/json'], ['POST', '/exec/{}/resize'],
  ['GET', '/images/json'], ['POST', '/images/create'], ['GET', '/images/{}/json'], ['GET', '/images/{}/history'], ['POST', '/images/{}/tag'],
  ['DELETE', '/images/{}'], ['POST', '/images/prune'], ['POST', '/commit'], ['GET', '/images/{}/get'], ['GET', '/images/get'],
  ['POST', '/images/load'], ['POST', '/build'], ['POST', '/build/prune'], ['GET', '/networks'], ['GET', '/networks/{}'], ['DELETE', '/networks/{}'],
  ['POST', '/networks/create'], ['POST', '/networks/{}/connect'], ['POST', '/networks/{}/disconnect'], ['POST', '/networks/prune'],
  ['GET', '/volumes'], ['POST', '/volumes/create'], ['GET', '/volumes/{}'], ['DELETE', '/volumes/{}'], ['POST', '/volumes/prune'],
  ['GET', '/swarm'], ['GET', '/nodes'], ['GET', '/plugins'], ['GET', '/nope/{}'],
]

/** Paths whose answer may legitimately stream for as long as the client stays. */
const STREAMING = /\/(events|logs|stats|wait|attach|export|get|start)(\?|$)|\/exec\/[^/]+\/start/

interface Request {
  method: string
  path: string
  headers: Record<string, string>
  body?: Buffer
  /** Raw bytes instead of a well-formed request. */
  raw?: Buffer
  /** Send the head, then stop for this long before the rest (or before closing). */
  stallMs?: number
  halfClose?: boolean
}

export function requestArbitrary(ids: { container: string; image: string }, canaries: string[]): fc.Arbitrary<Request> {
  const traversal = fc.constantFrom('..', '../..', '../../../../../../tmp', '%2e%2e', '..%2f..', '/etc/passwd', '.', '', ' ', '\u0000', 'a/../../b', '....//')
  const name = fc.oneof(
    fc.constantFrom(ids.container, ids.image, 'busybox', 'busybox:latest', 'sha256:' + '0'.repeat(64), 'nope', 'UPPER', 'a'.repeat(300)),
    traversal,
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
  )
  const jsonValue = fc.jsonValue({ maxDepth: 4 })
  const createBody = fc.record(
    {
      Image: fc.oneof(fc.constant('busybox'), name),
      Cmd: fc.oneof(fc.constantFrom(['true'], ['sleep', '1'], ['cat']), jsonValue),
      Env: fc.oneof(fc.array(fc.string({ maxLength: 30 }), { maxLength: 5 }), jsonValue),
      Labels: fc.oneof(fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 3 }), jsonValue),
      WorkingDir: fc.oneof(traversal, fc.string({ maxLength: 20 })),
      User: fc.oneof(fc.constantFrom('0', 'nobody', '65534:65534', '-1', 'x:y:z'), fc.string({ maxLength: 10 })),
      ExposedPorts: fc.oneof(fc.constant({ '80/tcp': {} }), jsonValue),
      HostConfig: fc.record(
        {
          Memory: fc.oneof(fc.integer(), fc.constant(-1), fc.constant(2 ** 60), jsonValue),
          PidsLimit: fc.oneof(fc.integer(), jsonValue),
          NetworkMode: fc.oneof(fc.constantFrom('none', 'bridge', 'host', 'container:nope', 'default'), fc.string({ maxLength: 10 })),
          RestartPolicy: fc.oneof(fc.constant({ Name: 'no' }), jsonValue),
          // Volumes only: a fuzzer must not hand a container a host path.
          Mounts: fc.oneof(fc.constant([]), fc.array(fc.record({ Type: fc.constant('volume'), Source: name, Target: fc.oneof(traversal, fc.constant('/data')) }), { maxLength: 2 })),
          LogConfig: fc.oneof(fc.constant({ Type: 'json-file', Config: { 'max-size': '1k' } }), jsonValue),
          Ulimits: fc.oneof(fc.constant([]), jsonValue),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  )
  const tarBody = fc
    .array(
      fc.record({
        name: fc.oneof(traversal.map((t) => `${t}/${canaryName(canaries)}`), fc.constantFrom('Dockerfile', 'a', 'dir/b', '/abs/c', './d'), fc.constant(canaries[0]!.slice(1))),
        type: fc.constantFrom('file', 'symlink', 'directory', 'link'),
        linkname: fc.oneof(fc.constant('/'), fc.constant('../../../../tmp'), traversal),
        content: fc.oneof(fc.constant('FROM busybox\nCOPY . /ctx\n'), fc.string({ maxLength: 100 })),
      }),
      { maxLength: 6 },
    )
    .map(makeTar)
  const query = fc.dictionary(
    fc.constantFrom('all', 'size', 'filters', 'force', 'v', 'name', 'path', 't', 'signal', 'tail', 'since', 'until', 'follow', 'stream', 'h', 'w', 'repo', 'tag', 'fromSrc', 'dockerfile', 'buildargs', 'q', 'noOverwriteDirNonDir', 'condition', 'ps_args'),
    fc.oneof(fc.constantFrom('1', '0', 'true', '', '-1', '{}', '{"label":{"x":true}}', '{"dangling":["x"]}', '/', '../../..', '%', '9'.repeat(30), 'SIGKILL', 'NOPE', '-'), fc.string({ maxLength: 20 })),
    { maxKeys: 4 },
  )
  const wellFormed = fc.tuple(fc.constantFrom(...ROUTES), name, query, fc.oneof(createBody.map((b) => Buffer.from(JSON.stringify(b))), jsonValue.map((v) => Buffer.from(JSON.stringify(v))), tarBody, fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), fc.constant(undefined)), fc.boolean()).map(
    ([[method, template], param, q, body, versioned]): Request => {
      // Streams are asked not to follow, so that an answer ends; exec and attach get what they ask for.
      const qs = new URLSearchParams(Object.entries({ ...q, ...(STREAMING.test(template) ? { follow: '0', stream: '0', until: '1' } : {}) }))
      if (template === '/images/create') qs.set('fromSrc', '-')
      if (template === '/build') qs.delete('remote')
      const path = `${versioned ? '/v1.45' : ''}${template.replace('{}', encodeURIComponent(param))}?${qs.toString()}`
      const headers: Record<string, string> = { 'Content-Type': body && body[0] === 0x7b ? 'application/json' : 'application/x-tar' }
      return { method, path, headers, ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}) }
    },
  )
  const rawBytes = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.constantFrom(
      'POST /containers/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}',
      'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'POST /build HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffff\r\n',
      'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /containers/json HTTP/1.0\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ).map((s) => Buffer.from(s)),
  )
  return fc.oneof(
    { weight: 12, arbitrary: wellFormed },
    { weight: 2, arbitrary: rawBytes.map((raw): Request => ({ method: 'RAW', path: '', headers: {}, raw })) },
    { weight: 1, arbitrary: wellFormed.map((r): Request => ({ ...r, halfClose: true })) },
    { weight: 1, arbitrary: fc.tuple(wellFormed, fc.integer({ min: 10, max: 300 })).map(([r, stallMs]): Request => ({ ...r, stallMs })) },
  )
}

const canaryName = (canaries: string[]): string => canaries[0]!.split('/').at(-1)!

/** A ustar archive, made synchronously (fast-check maps are): names over 100 bytes are cut, as a fuzzer may. */
function makeTar(entries: Array<{ name: string; type: string; linkname: string; content: string }>): Buffer {
  const blocks: Buffer[] = []
  for (const e of entries) {
    const data = e.type === 'file' ? Buffer.from(e.content) : Buffer.alloc(0)
    const h = Buffer.alloc(512)
    const put = (text: string, at: number, len: number): void => void h.write(text.slice(0, len), at, len, 'utf8')
    const octal = (n: number, at: number, len: number): void => put(n.toString(8).padStart(len - 1, '0') + '\0', at, len)
    put(e.name, 0, 100)
    octal(e.type === 'directory' ? 0o755 : 0o644, 100, 8)
    octal(0, 108, 8)
    octal(0, 116, 8)
    octal(data.length, 124, 12)
    octal(1_700_000_000, 136, 12)
    h.fill(0x20, 148, 156)
    put({ file: '0', link: '1', symlink: '2', directory: '5' }[e.type] ?? '0', 156, 1)
    put(e.linkname, 157, 100)
    put('ustar\0' + '00', 257, 8)
    let sum = 0
    for (const b of h) sum += b
    put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8)
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

/** Sends one request on a connection of its own; resolves with the status (0: no answer) within `timeoutMs`. */
function send(socket: string, r: Request, timeoutMs: number): Promise<{ status: number; timedOut: boolean }> {
  return new Promise((resolve) => {
    const s = connect(socket)
    let head = ''
    let done = false
    const finish = (status: number, timedOut = false): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      s.destroy()
      resolve({ status, timedOut })
    }
    const timer = setTimeout(() => finish(0, true), timeoutMs)
    s.on('data', (c: Buffer) => {
      head += c.toString('latin1')
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head)
      if (m) finish(Number(m[1]))
      else if (head.length > 100) finish(0)
    })
    s.on('error', () => finish(0))
    s.on('close', () => finish(0))
    if (r.raw) {
      s.end(r.raw)
      return
    }
    const body = r.body ?? Buffer.alloc(0)
    const headText = `${r.method} ${r.path} HTTP/1.1\r\nHost: api.moby.localhost\r\n${Object.entries(r.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`
    if (r.stallMs) {
      s.write(headText)
      setTimeout(() => !done && s.end(body), r.stallMs)
    } else if (r.halfClose) {
      s.write(headText)
      s.end(body.subarray(0, body.length >> 1))
    } else s.end(Buffer.concat([Buffer.from(headText), body]))
  })
}

/** The run: `requests` samples of the arbitrary, `concurrency` at a time; then the canaries are checked. */
export async function fuzzDaemon(opts: FuzzOptions, ids: { container: string; image: string }): Promise<FuzzReport> {
  const samples = fc.sample(requestArbitrary(ids, opts.canaries), { numRuns: opts.requests, seed: opts.seed })
  const report: FuzzReport = { sent: 0, byStatus: {}, routes: ROUTES.length, hung: [], unanswered: [], serverErrors: [], escapes: [] }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < samples.length) {
      const r = samples[next++]!
      const { status, timedOut } = await send(opts.socket, r, 10_000)
      report.sent++
      report.byStatus[String(status)] = (report.byStatus[String(status)] ?? 0) + 1
      const what = r.raw ? `raw ${JSON.stringify(r.raw.toString('latin1').slice(0, 80))}` : `${r.method} ${r.path.slice(0, 200)}`
      const plain = !r.raw && !r.stallMs && !r.halfClose
      if (timedOut && plain && !STREAMING.test(r.path)) report.hung.push(what)
      if (status === 0 && !timedOut && plain) report.unanswered.push(what)
      // 503 "not a swarm manager" is Docker's own answer outside a swarm.
      if (status >= 500 && !(status === 503 && /^\w+ (\/v[\d.]+)?\/(swarm|nodes|services|tasks|secrets|configs)\b/.test(what))) report.serverErrors.push(`${status} ${what}`)
      if (report.sent % 1000 === 0) opts.progress?.(report.sent)
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker))
  report.escapes = opts.canaries.filter((c) => existsSync(c))
  return report
}
