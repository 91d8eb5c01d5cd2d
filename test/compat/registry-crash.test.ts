// cais registry killed with SIGKILL at random moments while clients push: after each restart, every push it
// acknowledged is whole (manifest and blobs, digests checked), a deleted tag stays deleted, every tag it lists leads
// to complete content, no temp file of a cut write is left, and an acknowledged upload session resumes from where
// the server says it stands. A garbage collector killed mid-run leaves no lock that holds the registry read-only.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { type IncomingHttpHeaders, request } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { killAndWait, repoRoot, runCommand, waitFor } from '../helpers/daemon.ts'
import { freePort } from '../helpers/registry.ts'

const ROUNDS = 10
const WRITERS = 4
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/** One request on a connection of its own: a kill must not leave a pooled socket behind for the next round. */
function call(port: number, method: string, path: string, body?: Buffer, headers: Record<string, string | number> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, headers: { ...headers, ...(body ? { 'Content-Length': body.length } : {}) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

/** A small deterministic generator, so a failing seed replays the same choices. */
function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

interface Pushed {
  repo: string
  tag: string
  manifest: Buffer
  blobs: Map<string, Buffer>
}

interface Session {
  repo: string
  location: string
  data: Buffer
  acked: number
  /** Its final PUT was sent: a kill may have cut the answer after the blob was stored and the session closed. */
  finishing: boolean
}

test('cais registry killed at random moments during pushes: what it acknowledged is whole, nothing partial is visible, uploads resume, a killed gc holds nothing', async (t) => {
  const seed = Number(process.env['CAIS_REGISTRY_CRASH_SEED'] ?? Date.now() % 1_000_000)
  const random = prng(seed)
  const why = (what: string): string => `${what} (replay with CAIS_REGISTRY_CRASH_SEED=${seed})`
  const dir = mkdtempSync('/tmp/cais-test-registry-crash-')
  const root = join(dir, 'data')
  const port = await freePort()
  let child: ChildProcess | undefined
  let log = ''
  t.after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  const start = async (): Promise<void> => {
    const starts = (log.match(/registry listening/g) ?? []).length
    const c = spawn(join(repoRoot, 'bin/cais-registry'), ['serve', '--addr', `127.0.0.1:${port}`, '--root', root], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = c
    c.stdout.on('data', (d: Buffer) => (log += d.toString()))
    c.stderr.on('data', (d: Buffer) => (log += d.toString()))
    await waitFor('the registry to listen', () => ((log.match(/registry listening/g) ?? []).length > starts ? true : c.exitCode !== null ? Promise.reject(new Error(log)) : undefined))
  }
  const kill = (): Promise<void> => killAndWait(child)

  const pushed = new Map<string, Pushed>()
  const removed = new Set<string>()
  const sessions: Session[] = []
  let counter = 0

  const upload = async (repo: string, data: Buffer, live: () => boolean): Promise<void> => {
    const digest = digestOf(data)
    if (random() < 0.4) {
      const r = await call(port, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, data, { 'Content-Type': 'application/octet-stream' })
      assert.equal(r.status, 201, why(`monolithic upload: ${r.body.toString()}`))
      return
    }
    const started = await call(port, 'POST', `/v2/${repo}/blobs/uploads/`)
    assert.equal(started.status, 202)
    const session: Session = { repo, location: String(started.headers.location), data, acked: 0, finishing: false }
    sessions.push(session)
    const chunks = 1 + Math.floor(random() * 3)
    const step = Math.ceil(data.length / chunks)
    for (let at = 0; at < data.length && live(); at += step) {
      const chunk = data.subarray(at, at + step)
      const r = await call(port, 'PATCH', session.location, chunk, { 'Content-Range': `${at}-${at + chunk.length - 1}`, 'Content-Type': 'application/octet-stream' })
      assert.equal(r.status, 202, why(`chunk: ${r.body.toString()}`))
      session.acked = at + chunk.length
    }
    if (!live()) return
    session.finishing = true
    const done = await call(port, 'PUT', `${session.location}?digest=${digest}`)
    assert.equal(done.status, 201, why(`finishing an upload: ${done.body.toString()}`))
    sessions.splice(sessions.indexOf(session), 1)
  }

  const push = async (writer: number, live: () => boolean): Promise<void> => {
    const repo = `crash/w${writer}`
    if (random() < 0.15) {
      const mine = [...pushed.values()].filter((p) => p.repo === repo)
      const victim = mine[Math.floor(random() * mine.length)]
      if (victim) {
        // Until the answer comes, the tag may be there or not: a kill that cuts the call leaves it undecided.
        const key = `${repo}:${victim.tag}`
        pushed.delete(key)
        const r = await call(port, 'DELETE', `/v2/${repo}/manifests/${victim.tag}`)
        assert.equal(r.status, 202, why(`tag deletion: ${r.body.toString()}`))
        removed.add(key)
        return
      }
    }
    const blobs = new Map<string, Buffer>()
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: counter++ }))
    blobs.set(digestOf(config), config)
    const layers = [0, 1].map(() => randomBytes(64 * 1024 + Math.floor(random() * 1024 * 1024)))
    for (const l of layers) blobs.set(digestOf(l), l)
    for (const b of blobs.values()) {
      if (!live()) return
      await upload(repo, b, live)
    }
    if (!live()) return
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(l), size: l.length })),
      }),
    )
    const tag = `t${counter++}`
    const r = await call(port, 'PUT', `/v2/${repo}/manifests/${tag}`, manifest, { 'Content-Type': OCI_MANIFEST })
    assert.equal(r.status, 201, why(`manifest: ${r.body.toString()}`))
    pushed.set(`${repo}:${tag}`, { repo, tag, manifest, blobs })
  }

  /**
   * After each restart: every acknowledged manifest, the blobs of those acknowledged since the last check (all of
   * them when `whole`) read back in full, and every listed tag's blobs present at their full size.
   */
  const verified = new Set<string>()
  const verify = async (when: string, whole = false): Promise<void> => {
    for (const [key, p] of pushed) {
      const m = await call(port, 'GET', `/v2/${p.repo}/manifests/${p.tag}`, undefined, { Accept: OCI_MANIFEST })
      assert.equal(m.status, 200, why(`${when}: acknowledged ${key} is gone`))
      assert.ok(m.body.equals(p.manifest), why(`${when}: ${key} changed`))
      if (verified.has(key) && !whole) continue
      for (const [digest, data] of p.blobs) {
        const b = await call(port, 'GET', `/v2/${p.repo}/blobs/${digest}`)
        assert.equal(b.status, 200, why(`${when}: blob ${digest} of ${key}`))
        assert.ok(b.body.equals(data), why(`${when}: blob ${digest} of ${key} is not whole`))
      }
      verified.add(key)
    }
    for (const key of removed) {
      const [repo, tag] = key.split(':') as [string, string]
      assert.equal((await call(port, 'GET', `/v2/${repo}/manifests/${tag}`)).status, 404, why(`${when}: deleted ${key} came back`))
    }
    // Whatever the registry lists, acknowledged or cut short, leads to complete content.
    const catalog = JSON.parse((await call(port, 'GET', '/v2/_catalog')).body.toString()) as { repositories: string[] }
    for (const repo of catalog.repositories) {
      const { tags } = JSON.parse((await call(port, 'GET', `/v2/${repo}/tags/list`)).body.toString()) as { tags: string[] }
      for (const tag of tags) {
        const m = await call(port, 'GET', `/v2/${repo}/manifests/${tag}`, undefined, { Accept: OCI_MANIFEST })
        assert.equal(m.status, 200, why(`${when}: listed ${repo}:${tag} cannot be read`))
        assert.equal(m.headers['docker-content-digest'], digestOf(m.body))
        const doc = JSON.parse(m.body.toString()) as { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> }
        for (const { digest, size } of [doc.config, ...doc.layers]) {
          const b = await call(port, 'HEAD', `/v2/${repo}/blobs/${digest}`)
          assert.equal(b.status, 200, why(`${when}: ${repo}:${tag} lists blob ${digest}, which is missing`))
          assert.equal(Number(b.headers['content-length']), size, why(`${when}: blob ${digest} is partial`))
        }
      }
    }
    const temps: string[] = []
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.name.startsWith('.tmp-')) temps.push(join(d, e.name))
        else if (e.isDirectory()) walk(join(d, e.name))
      }
    }
    walk(root)
    assert.deepEqual(temps, [], why(`${when}: temp files of cut writes are left`))
    for (const id of readdirSync(join(root, 'uploads'))) {
      for (const f of ['state.json', 'data']) assert.ok(statSync(join(root, 'uploads', id, f), { throwIfNoEntry: false }), why(`${when}: upload ${id} lacks its ${f}`))
    }
  }

  /** Each acknowledged session picks up where the server says it stands and finishes with the right digest. */
  const resumeSessions = async (when: string): Promise<void> => {
    for (const s of sessions.splice(0)) {
      const status = await call(port, 'GET', s.location)
      if (status.status === 404 && s.finishing) {
        const stored = await call(port, 'GET', `/v2/${s.repo}/blobs/${digestOf(s.data)}`)
        assert.ok(stored.status === 200 && stored.body.equals(s.data), why(`${when}: session ${s.location} was closed by its cut PUT, but its blob is not whole`))
        continue
      }
      assert.equal(status.status, 204, why(`${when}: acknowledged upload session ${s.location} is unknown`))
      // `0-0` is an empty upload, as distribution writes it (and clients read it); chunks here are never 1 byte.
      const end = Number(/^0-(\d+)$/.exec(String(status.headers.range))?.[1] ?? -1)
      const stands = end === 0 ? 0 : end + 1
      assert.ok(stands >= s.acked && stands <= s.data.length, why(`${when}: session stands at ${stands}, ${s.acked} bytes were acknowledged`))
      if (stands < s.data.length) {
        const rest = s.data.subarray(stands)
        const r = await call(port, 'PATCH', s.location, rest, { 'Content-Range': `${stands}-${s.data.length - 1}` })
        assert.equal(r.status, 202, why(`${when}: resumed chunk: ${r.body.toString()}`))
      }
      const done = await call(port, 'PUT', `${s.location}?digest=${digestOf(s.data)}`)
      assert.equal(done.status, 201, why(`${when}: resumed upload: ${done.body.toString()}`))
    }
  }

  await start()
  let kills = 0
  for (let round = 0; round < ROUNDS; round++) {
    let live = true
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      while (live) {
        try {
          await push(w, () => live)
        } catch (err) {
          // A kill cuts requests short; anything else, or a wrong answer at any time, is a failure.
          if (live || err instanceof assert.AssertionError) throw err
        }
      }
    })
    await new Promise((r) => setTimeout(r, 50 + Math.floor(random() * 700)))
    live = false
    await kill()
    kills++
    await Promise.all(writers)
    await start()
    await verify(`after kill ${kills}`)
    await resumeSessions(`after kill ${kills}`)
  }
  assert.ok(pushed.size >= ROUNDS, why(`the workload acknowledged too little to test anything (${pushed.size} pushes)`))
  assert.match(log, /"msg":"cleared what an earlier run left"/, why('no kill ever cut a write (the clearing at start was never exercised)'))

  // A collector killed mid-run leaves its lock; the registry must not stay read-only, and the next collection runs.
  const gcBin = join(repoRoot, 'bin/cais-registry')
  const gone = spawnSync('true')
  writeFileSync(join(root, 'gc.lock'), `${gone.pid}\n`)
  assert.equal((await call(port, 'POST', '/v2/crash/w0/blobs/uploads/')).status, 202, 'a dead collector\'s lock refuses no write')
  const gc = spawn(gcBin, ['gc', '--root', root, '--grace', '0'], { stdio: 'ignore' })
  const gcExit = new Promise((r) => gc.once('exit', r))
  await new Promise((r) => setTimeout(r, 100 + Math.floor(random() * 400)))
  gc.kill('SIGKILL')
  await gcExit
  const again = await runCommand(gcBin, ['gc', '--root', root, '--grace', '0'])
  assert.equal(again.code, 0, why(`a collection after a killed one: ${again.stderr}`))
  await verify('after the collections', true)
})
