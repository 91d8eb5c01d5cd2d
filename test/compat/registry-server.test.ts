// cais registry serve against real clients: skopeo (copy in and out, list-tags, delete), Debian's docker-registry as
// the reference peer (copies both ways, identical digests), caisd pushing and pulling through it; and the
// protocol's edge cases on the wire: chunks out of order, wrong digests, missing references, ranges, pagination,
// referrers, and an upload resumed across a restart of the server.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createHash, createPrivateKey, createSign } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import bcrypt from 'bcryptjs'
import type { IncomingHttpHeaders } from 'node:http'
import { connect as connectHttp2 } from 'node:http2'
import { get } from 'node:https'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { BUSYBOX, busyboxTar, killAndWait, repoRoot, runCommand, startDaemon, waitFor } from '../helpers/daemon.ts'
import { startDockerd } from '../helpers/dockerd.ts'
import { freePort, startRegistry } from '../helpers/registry.ts'

const noSkopeo = existsSync('/usr/bin/skopeo') ? false : 'skopeo is not installed (scripts/setup.sh installs it)'

interface OurRegistry {
  address: string
  url: string
  root: string
  restart(): Promise<void>
  log(): string
}

async function startOurs(t: TestContext, extra: (dir: string, port: number) => string[] = () => [], scheme: 'http' | 'https' = 'http'): Promise<OurRegistry> {
  const dir = mkdtempSync('/tmp/cais-test-our-registry-')
  const port = await freePort()
  const args = extra(dir, port)
  let child: ChildProcess | undefined
  let log = ''
  const start = async (): Promise<void> => {
    child = spawn(join(repoRoot, 'bin/cais'), ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', join(dir, 'data'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()))
    const starts = (log.match(/registry listening/g) ?? []).length
    await waitFor('the registry to listen', () => ((log.match(/registry listening/g) ?? []).length > starts ? true : child?.exitCode !== null ? Promise.reject(new Error(log)) : undefined))
  }
  const stop = (): Promise<void> => killAndWait(child)
  t.after(async () => {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })
  await start()
  return { address: `127.0.0.1:${port}`, url: `${scheme}://127.0.0.1:${port}`, root: join(dir, 'data'), restart: async () => (await stop(), await start()), log: () => log }
}

async function skopeo(...args: string[]): Promise<string> {
  const r = await runCommand('skopeo', args, { timeoutMs: 60_000 })
  assert.equal(r.code, 0, `skopeo ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

/** A GET over HTTPS trusting `ca` (no curl: a fresh machine may not have it). */
function httpsGet(url: string, ca: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => (body += c.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    }).on('error', reject)
  })
}

const digestOf = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

test('skopeo copies into and out of cais registry, and between it and Debian\'s docker-registry both ways, digests unchanged', { skip: noSkopeo }, async (t) => {
  const ours = await startOurs(t)
  const reference = await startRegistry(t)
  const insecure = ['--src-tls-verify=false', '--dest-tls-verify=false']
  await skopeo('copy', '--dest-tls-verify=false', `tarball:${busyboxTar()}`, `docker://${ours.address}/team/busybox:1`)
  const first = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${ours.address}/team/busybox:1`)) as { Digest: string; Layers: string[] }
  assert.deepEqual(JSON.parse(await skopeo('list-tags', '--tls-verify=false', `docker://${ours.address}/team/busybox`)), { Repository: `${ours.address}/team/busybox`, Tags: ['1'] })

  await skopeo('copy', ...insecure, `docker://${ours.address}/team/busybox:1`, `docker://${reference.address}/peer/busybox:1`)
  const atPeer = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${reference.address}/peer/busybox:1`)) as { Digest: string }
  assert.equal(atPeer.Digest, first.Digest, 'docker-registry holds the same manifest bytes')
  await skopeo('copy', ...insecure, `docker://${reference.address}/peer/busybox:1`, `docker://${ours.address}/back/busybox:2`)
  const back = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${ours.address}/back/busybox:2`)) as { Digest: string; Layers: string[] }
  assert.equal(back.Digest, first.Digest)
  assert.deepEqual(back.Layers, first.Layers)

  await skopeo('delete', '--tls-verify=false', `docker://${ours.address}/back/busybox:2`)
  const gone = await runCommand('skopeo', ['inspect', '--tls-verify=false', `docker://${ours.address}/back/busybox:2`])
  assert.notEqual(gone.code, 0)
  assert.match(gone.stderr, /manifest unknown/)
  assert.deepEqual(await (await fetch(`${ours.url}/v2/_catalog`)).json(), { repositories: ['back/busybox', 'team/busybox'] })
})

test('caisd pushes to and pulls from cais registry, then runs what it pulled', async (t) => {
  const ours = await startOurs(t)
  const d = await startDaemon(t)
  const name = `${ours.address}/apps/busybox:v1`
  assert.equal((await d.cli('tag', BUSYBOX, name)).code, 0)
  const pushed = await d.cli('push', name)
  assert.equal(pushed.code, 0, pushed.stderr)
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed.stdout)![1]!
  assert.equal((await d.cli('rmi', name)).code, 0)
  assert.equal((await d.cli('rmi', BUSYBOX)).code, 0)
  const pulled = await d.cli('pull', name)
  assert.equal(pulled.code, 0, pulled.stderr)
  assert.match(pulled.stdout, new RegExp(`Digest: ${digest}`))
  const run = await d.cli('run', '--rm', name, 'echo', 'pulled from cais registry')
  assert.equal(run.stdout, 'pulled from cais registry\n', run.stderr)
})

test('the protocol on the wire: chunk order, digests, missing references, ranges, pagination, referrers, a resumed upload', async (t) => {
  const ours = await startOurs(t)
  const v2 = `${ours.url}/v2/wire/test`
  const errorCode = async (r: Response): Promise<string> => ((await r.json()) as { errors: Array<{ code: string }> }).errors[0]!.code
  const put = async (data: Buffer): Promise<string> => {
    const digest = digestOf(data)
    const r = await fetch(`${v2}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data })
    assert.equal(r.status, 201)
    assert.equal(r.headers.get('docker-content-digest'), digest)
    return digest
  }

  // Chunked upload: in order, out of order (416 saying where it stands), then finished with a wrong digest.
  const data = Buffer.from('0123456789abcdef')
  let r = await fetch(`${v2}/blobs/uploads/`, { method: 'POST' })
  assert.equal(r.status, 202)
  let location = r.headers.get('location')!
  r = await fetch(`${ours.url}${location}`, { method: 'PATCH', body: data.subarray(0, 8), headers: { 'Content-Range': '0-7' } })
  assert.equal(r.status, 202)
  assert.equal(r.headers.get('range'), '0-7')
  r = await fetch(`${ours.url}${location}`, { method: 'PATCH', body: data.subarray(10), headers: { 'Content-Range': '10-15' } })
  assert.equal(r.status, 416)
  assert.equal(r.headers.get('range'), '0-7')
  // The server goes away mid-upload; the client asks where it stands and finishes.
  await ours.restart()
  r = await fetch(`${ours.url}${location}`)
  assert.equal(r.status, 204)
  assert.equal(r.headers.get('range'), '0-7')
  r = await fetch(`${ours.url}${location}`, { method: 'PATCH', body: data.subarray(8), headers: { 'Content-Range': '8-15' } })
  assert.equal(r.status, 202)
  location = r.headers.get('location')!
  r = await fetch(`${ours.url}${location}?digest=${digestOf('something else')}`, { method: 'PUT' })
  assert.equal(r.status, 400)
  assert.equal(await errorCode(r), 'DIGEST_INVALID')

  // Monolithic uploads, ranges, and a manifest that names a blob nobody pushed.
  const layer = await put(Buffer.from('layer bytes: 0123456789'))
  const config = await put(Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'))
  r = await fetch(`${v2}/blobs/${layer}`, { headers: { Range: 'bytes=6-10' } })
  assert.equal(r.status, 206)
  assert.equal(r.headers.get('content-range'), 'bytes 6-10/23')
  assert.equal(await r.text(), 'bytes')
  const manifestOf = (layers: string[], extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 79 }, layers: layers.map((digest) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: 23 })), ...extra })
  const putManifest = (ref: string, body: string): Promise<Response> => fetch(`${v2}/manifests/${ref}`, { method: 'PUT', body, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } })
  r = await putManifest('broken', manifestOf([digestOf('never pushed')]))
  assert.equal(r.status, 400)
  assert.equal(await errorCode(r), 'MANIFEST_BLOB_UNKNOWN')
  const image = manifestOf([layer])
  for (const tag of ['a', 'b', 'c', 'd']) assert.equal((await putManifest(tag, image)).status, 201)
  r = await fetch(`${v2}/manifests/a`, { method: 'HEAD' })
  assert.equal(r.headers.get('docker-content-digest'), digestOf(image))
  assert.equal(r.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json')

  // Pagination: n and last, with a Link to the next page.
  r = await fetch(`${v2}/tags/list?n=2`)
  assert.deepEqual(await r.json(), { name: 'wire/test', tags: ['a', 'b'] })
  assert.equal(r.headers.get('link'), '</v2/wire/test/tags/list?n=2&last=b>; rel="next"')
  assert.deepEqual(await (await fetch(`${v2}/tags/list?n=2&last=b`)).json(), { name: 'wire/test', tags: ['c', 'd'] })

  // Referrers: a signature-like artifact naming the image as its subject.
  const artifact = manifestOf([layer], { artifactType: 'application/vnd.example.sig', subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf(image), size: image.length } })
  r = await putManifest(digestOf(artifact), artifact)
  assert.equal(r.status, 201)
  assert.equal(r.headers.get('oci-subject'), digestOf(image))
  const referrers = (await (await fetch(`${v2}/referrers/${digestOf(image)}?artifactType=application/vnd.example.sig`)).json()) as { manifests: Array<{ digest: string; artifactType: string }> }
  assert.deepEqual(referrers.manifests.map((m) => [m.digest, m.artifactType]), [[digestOf(artifact), 'application/vnd.example.sig']])
  assert.deepEqual(((await (await fetch(`${v2}/referrers/${digestOf(image)}?artifactType=other`)).json()) as { manifests: unknown[] }).manifests, [])

  // Deletion: a tag, then the manifest by digest (its tags with it), then a blob.
  assert.equal((await fetch(`${v2}/manifests/d`, { method: 'DELETE' })).status, 202)
  assert.equal((await fetch(`${v2}/manifests/${digestOf(image)}`, { method: 'DELETE' })).status, 202)
  r = await fetch(`${v2}/manifests/a`)
  assert.equal(r.status, 404)
  assert.equal(await errorCode(r), 'MANIFEST_UNKNOWN')
  assert.equal((await fetch(`${v2}/blobs/${layer}`, { method: 'DELETE' })).status, 202)
  assert.equal((await fetch(`${v2}/blobs/${layer}`, { method: 'HEAD' })).status, 404)
  r = await fetch(`${ours.url}/v2/Bad_Name/tags/list`)
  assert.equal(r.status, 400)
  assert.equal(await errorCode(r), 'NAME_INVALID')
  assert.match(ours.log(), /"method":"PUT","path":"\/v2\/wire\/test\/manifests\/a","status":201/)
})

test('cais registry gc: after a tag goes, exactly the blobs nothing references any more are freed; a dry run frees none', async (t) => {
  const ours = await startOurs(t)
  const v2 = `${ours.url}/v2/gc/app`
  const blobs = new Map<string, string>()
  for (const [name, content] of [['shared', 'shared layer'], ['only2', 'second image layer'], ['config1', '{"os":"linux","n":1}'], ['config2', '{"os":"linux","n":2}']]) {
    const digest = digestOf(content!)
    assert.equal((await fetch(`${v2}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: content! })).status, 201)
    blobs.set(name!, digest)
  }
  const manifest = (config: string, layers: string[]): string =>
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blobs.get(config), size: 1 }, layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: blobs.get(l), size: 1 })) })
  const one = manifest('config1', ['shared'])
  const two = manifest('config2', ['shared', 'only2'])
  for (const [tag, body] of [['one', one], ['two', two]] as const) {
    assert.equal((await fetch(`${v2}/manifests/${tag}`, { method: 'PUT', body, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } })).status, 201)
  }
  assert.equal((await fetch(`${v2}/manifests/two`, { method: 'DELETE' })).status, 202)
  const gc = (...args: string[]): ReturnType<typeof runCommand> => runCommand(join(repoRoot, 'bin/cais'), ['registry', 'gc', '--root', ours.root, '--grace', '0', ...args])
  const dry = await gc('--dry-run', '--delete-untagged')
  assert.equal(dry.code, 0, dry.stderr)
  const wouldGo = [...dry.stdout.matchAll(/blob (sha256:[a-f0-9]{64}) would be deleted/g)].map((m) => m[1]).sort()
  assert.deepEqual(wouldGo, [blobs.get('only2'), blobs.get('config2'), digestOf(two)].sort())
  assert.equal((await fetch(`${v2}/blobs/${blobs.get('only2')}`, { method: 'HEAD' })).status, 200, 'a dry run deletes nothing')

  const real = await gc('--delete-untagged')
  assert.equal(real.code, 0, real.stderr)
  assert.match(real.stdout, /3 deleted/)
  for (const gone of ['only2', 'config2']) assert.equal((await fetch(`${v2}/blobs/${blobs.get(gone)}`, { method: 'HEAD' })).status, 404, gone)
  for (const kept of ['shared', 'config1']) assert.equal((await fetch(`${v2}/blobs/${blobs.get(kept)}`, { method: 'HEAD' })).status, 200, kept)
  assert.equal(await (await fetch(`${v2}/manifests/one`)).text(), one)
  assert.equal((await fetch(`${v2}/manifests/${digestOf(two)}`)).status, 404)
})

test('cais registry with TLS, htpasswd users and per-repository rules: caisd logs in, pushes and pulls; a reader cannot push; HTTP/2 for a client that offers it; metrics count it', async (t) => {
  const users = { alice: 'alice-secret', bob: 'bob-secret' }
  const ours = await startOurs(t, (dir) => {
    writeFileSync(join(dir, 'htpasswd'), Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 5)}`).join('\n') + '\n')
    const made = spawnSync(join(repoRoot, 'bin/cais'), ['tls', 'init', '--dir', join(dir, 'tls')])
    assert.equal(made.status, 0, made.stderr?.toString())
    writeFileSync(
      join(dir, 'config.yml'),
      `tls:\n  certificate: ${join(dir, 'tls/server-cert.pem')}\n  key: ${join(dir, 'tls/server-key.pem')}\nauth:\n  htpasswd:\n    realm: test-realm\n    path: ${join(dir, 'htpasswd')}\naccess:\n  - {user: alice, repository: "team/**", actions: [pull, push]}\n  - {user: bob, repository: "team/**", actions: [pull]}\n`,
    )
    return ['--config', join(dir, 'config.yml')]
  }, 'https')
  const tlsDir = join(ours.root, '..', 'tls')
  // caisd trusts the registry's CA through its certs.d directory, as dockerd does.
  const certsDir = join(ours.root, '..', 'certs.d')
  mkdirSync(join(certsDir, ours.address), { recursive: true })
  copyFileSync(join(tlsDir, 'ca.pem'), join(certsDir, ours.address, 'ca.crt'))
  const d = await startDaemon(t, { args: ['--certs-dir', certsDir] })

  const ca = readFileSync(join(tlsDir, 'ca.pem'))
  const anon = await httpsGet(`${ours.url}/v2/`, ca)
  assert.equal(anon.status, 401)
  assert.equal(anon.headers['www-authenticate'], 'Basic realm="test-realm"')
  assert.match(anon.body, /"code":"UNAUTHORIZED"/)
  const name = `${ours.address}/team/busybox:1`
  assert.equal((await d.cli('tag', BUSYBOX, name)).code, 0)
  const denied = await d.cli('push', name)
  assert.notEqual(denied.code, 0, 'no credentials, no push')
  assert.equal((await d.cli('login', ours.address, '-u', 'bob', '-p', users.bob)).code, 0)
  const readerPush = await d.cli('push', name)
  assert.notEqual(readerPush.code, 0)
  assert.match(readerPush.stderr + readerPush.stdout, /denied/)
  const login = await d.cli('login', ours.address, '-u', 'alice', '-p', users.alice)
  assert.equal(login.code, 0, login.stderr)
  const pushed = await d.cli('push', name)
  assert.equal(pushed.code, 0, pushed.stderr)
  assert.equal((await d.cli('rmi', name)).code, 0)
  const pulled = await d.cli('pull', name)
  assert.equal(pulled.code, 0, pulled.stderr)
  const wrong = await d.cli('login', ours.address, '-u', 'alice', '-p', 'wrong')
  assert.notEqual(wrong.code, 0)

  // A client offering HTTP/2 (ALPN) gets it: a chunked push, a manifest, a ranged read and an out-of-order chunk.
  const h2 = connectHttp2(ours.url, { ca })
  t.after(() => h2.close())
  const auth = { authorization: `Basic ${Buffer.from(`alice:${users.alice}`).toString('base64')}` }
  const h2call = (method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const stream = h2.request({ ':method': method, ':path': path, ...auth, ...headers })
      const chunks: Buffer[] = []
      let head: IncomingHttpHeaders = {}
      stream.on('response', (h) => (head = h as IncomingHttpHeaders))
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }))
      stream.on('error', reject)
      stream.end(body)
    })
  assert.equal((await h2call('GET', '/v2/')).status, 200)
  const layer = Buffer.alloc(300_000, 'h2')
  const started = await h2call('POST', '/v2/team/over-h2/blobs/uploads/')
  assert.equal(started.status, 202)
  const location = String(started.headers.location)
  assert.equal((await h2call('PATCH', location, layer.subarray(0, 100_000), { 'content-range': '0-99999' })).status, 202)
  const outOfOrder = await h2call('PATCH', location, layer.subarray(200_000), { 'content-range': '200000-299999' })
  assert.equal(outOfOrder.status, 416)
  assert.equal(outOfOrder.headers.range, '0-99999')
  assert.equal((await h2call('PUT', `${location}?digest=${digestOf(layer)}`, layer.subarray(100_000), { 'content-range': '100000-299999' })).status, 201)
  const config = Buffer.from('{}')
  assert.equal((await h2call('POST', `/v2/team/over-h2/blobs/uploads/?digest=${digestOf(config)}`, config)).status, 201)
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: 2 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: layer.length }] })
  assert.equal((await h2call('PUT', '/v2/team/over-h2/manifests/1', Buffer.from(manifest), { 'content-type': 'application/vnd.oci.image.manifest.v1+json' })).status, 201)
  assert.equal((await h2call('GET', '/v2/team/over-h2/manifests/1')).body.toString(), manifest)
  const ranged = await h2call('GET', `/v2/team/over-h2/blobs/${digestOf(layer)}`, undefined, { range: 'bytes=100-199' })
  assert.equal(ranged.status, 206)
  assert.ok(ranged.body.equals(layer.subarray(100, 200)))
  assert.match(ours.log(), /"method":"PUT","path":"\/v2\/team\/over-h2\/manifests\/1","status":201,[^}]*"http":"2.0"\}/)
  assert.match(ours.log(), /"method":"PUT","path":"\/v2\/team\/busybox\/manifests\/1","status":201,[^}]*"http":"1.1"\}/, 'caisd still speaks HTTP/1.1 to it')

  const metrics = await httpsGet(`${ours.url}/metrics`, ca)
  assert.match(metrics.body, /registry_http_requests_total\{method="PUT",code="201"\} \d+/)
  assert.match(metrics.body, /registry_http_request_duration_seconds_count \d+/)
})

const dockerd = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find(existsSync)

test('Debian\'s dockerd pushes to and pulls from cais registry', { skip: dockerd ? false : 'dockerd is not installed' }, async (t) => {
  const ours = await startOurs(t)
  const engine = await startDockerd(t)
  const name = `${ours.address}/from-dockerd/busybox:1`
  assert.equal((await engine.cli('tag', BUSYBOX, name)).code, 0)
  const pushed = await engine.cli('push', name)
  assert.equal(pushed.code, 0, `${pushed.stderr}\n${ours.log().slice(-2000)}`)
  assert.equal((await engine.cli('rmi', name)).code, 0)
  const pulled = await engine.cli('pull', name)
  assert.equal(pulled.code, 0, pulled.stderr)
  assert.equal((await engine.cli('run', '--rm', '--network', 'none', name, 'echo', 'round trip')).stdout, 'round trip\n')
})

test('cais registry --proxy: a pull-through cache of another registry, caisd\'s registry mirror, serving what it cached when upstream is gone, refusing pushes', { skip: noSkopeo }, async (t) => {
  const upstream = await startRegistry(t)
  await skopeo('copy', '--dest-tls-verify=false', `tarball:${busyboxTar()}`, `docker://${upstream.address}/mirror/busybox:1`)
  await skopeo('copy', '--dest-tls-verify=false', `tarball:${busyboxTar()}`, `docker://${upstream.address}/library/busybox:mirrored`)
  const ours = await startOurs(t, () => ['--proxy', `http://${upstream.address}`])
  const d = await startDaemon(t, { importBusybox: false, args: ['--registry-mirror', `http://${ours.address}`] })
  const name = `${ours.address}/mirror/busybox:1`
  const pulled = await d.cli('pull', name)
  assert.equal(pulled.code, 0, `${pulled.stderr}\n${ours.log().slice(-1500)}`)
  // As the daemon's mirror, it serves Docker Hub names (which never reach the hub here: the mirror has them).
  const hub = await d.docker('pull', 'busybox:mirrored')
  assert.equal(hub.code, 0, `${hub.stderr}\n${ours.log().slice(-1500)}`)
  assert.match(ours.log(), /"method":"GET","path":"\/v2\/library\/busybox\/manifests\/mirrored","status":200/)
  const first = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${name}`)) as { Digest: string }
  assert.equal(first.Digest, (JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${upstream.address}/mirror/busybox:1`)) as { Digest: string }).Digest)

  await upstream.kill()
  assert.equal((await d.cli('rmi', name)).code, 0)
  const cached = await d.cli('pull', name)
  assert.equal(cached.code, 0, `served from the cache with upstream gone: ${cached.stderr}`)
  assert.equal((await d.cli('run', '--rm', '--network', 'none', name, 'echo', 'cached')).stdout, 'cached\n')
  assert.equal((await d.cli('rmi', 'busybox:mirrored')).code, 0)
  const hubCached = await d.docker('pull', 'busybox:mirrored')
  assert.equal(hubCached.code, 0, `the mirror serves Docker Hub names from its cache with upstream gone: ${hubCached.stderr}`)
  const push = await fetch(`${ours.url}/v2/mirror/busybox/blobs/uploads/`, { method: 'POST' })
  assert.equal(push.status, 405)
})

test('cais registry: eight concurrent uploads of one blob all succeed and store it once; writes wait out a garbage collection', async (t) => {
  const ours = await startOurs(t)
  const v2 = `${ours.url}/v2/race/blob`
  const data = Buffer.alloc(4 * 1024 * 1024, 7)
  const digest = digestOf(data)
  const results = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      if (i % 2 === 0) return (await fetch(`${v2}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data })).status
      const started = await fetch(`${v2}/blobs/uploads/`, { method: 'POST' })
      const location = started.headers.get('location')!
      return (await fetch(`${ours.url}${location}?digest=${digest}`, { method: 'PUT', body: data })).status
    }),
  )
  assert.deepEqual(results, Array(8).fill(201))
  const got = Buffer.from(await (await fetch(`${v2}/blobs/${digest}`)).arrayBuffer())
  assert.equal(digestOf(got), digest)
  // A collection holds the store (the lock names a live process: this one): pushes are refused meanwhile, reads go on.
  writeFileSync(join(ours.root, 'gc.lock'), `${process.pid}\n`)
  const refused = await fetch(`${v2}/blobs/uploads/`, { method: 'POST' })
  assert.equal(refused.status, 503)
  assert.equal((await fetch(`${v2}/blobs/${digest}`, { method: 'HEAD' })).status, 200)
  const busy = await runCommand(join(repoRoot, 'bin/cais'), ['registry', 'gc', '--root', ours.root])
  assert.equal(busy.code, 1)
  assert.match(busy.stderr, new RegExp(`held by process ${process.pid}: another garbage collection is running`))
  rmSync(join(ours.root, 'gc.lock'))
  assert.equal((await fetch(`${v2}/blobs/uploads/`, { method: 'POST' })).status, 202)
})

test('cais registry token auth with its built-in issuer: caisd logs in and pushes through the token flow; a reader gets no push scope; a forged token is refused', async (t) => {
  const users = { alice: 'alice-secret', bob: 'bob-secret' }
  const ours = await startOurs(t, (dir, port) => {
    writeFileSync(join(dir, 'htpasswd'), Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 5)}`).join('\n') + '\n')
    for (const sub of ['keys', 'other']) assert.equal(spawnSync(join(repoRoot, 'bin/cais'), ['tls', 'init', '--dir', join(dir, sub)]).status, 0)
    writeFileSync(
      join(dir, 'config.yml'),
      [
        'auth:',
        '  token:',
        `    realm: http://127.0.0.1:${port}/token`,
        '    service: cais-test',
        '    issuer: cais-test-issuer',
        `    rootcertbundle: ${join(dir, 'keys/server-cert.pem')}`,
        `    issue: {key: ${join(dir, 'keys/server-key.pem')}, certificate: ${join(dir, 'keys/server-cert.pem')}, htpasswd: ${join(dir, 'htpasswd')}}`,
        'access:',
        '  - {user: alice, repository: "team/**", actions: [pull, push]}',
        '  - {user: bob, repository: "team/**", actions: [pull]}',
        '',
      ].join('\n'),
    )
    return ['--config', join(dir, 'config.yml')]
  }, 'http')
  const anon = await fetch(`${ours.url}/v2/team/app/tags/list`)
  assert.equal(anon.status, 401)
  assert.equal(anon.headers.get('www-authenticate'), `Bearer realm="${ours.url}/token",service="cais-test",scope="repository:team/app:pull"`)

  // A token signed by a key the registry does not trust.
  const forgedKey = createPrivateKey(readFileSync(join(ours.root, '..', 'other/server-key.pem')))
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({ iss: 'cais-test-issuer', aud: 'cais-test', exp: now + 60, nbf: now - 1, sub: 'mallory', access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }] })}`
  const forged = `${input}.${createSign('SHA256').update(input).sign({ key: forgedKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
  const refused = await fetch(`${ours.url}/v2/team/app/tags/list`, { headers: { Authorization: `Bearer ${forged}` } })
  assert.equal(refused.status, 401)
  assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/)

  const d = await startDaemon(t)
  const name = `${ours.address}/team/app:1`
  assert.equal((await d.cli('tag', BUSYBOX, name)).code, 0)
  assert.equal((await d.cli('login', ours.address, '-u', 'bob', '-p', users.bob)).code, 0)
  assert.notEqual((await d.cli('push', name)).code, 0, 'bob may only pull')
  assert.equal((await d.cli('login', ours.address, '-u', 'alice', '-p', users.alice)).code, 0)
  const pushed = await d.cli('push', name)
  assert.equal(pushed.code, 0, `${pushed.stderr}\n${ours.log().slice(-1500)}`)
  assert.equal((await d.cli('rmi', name)).code, 0)
  assert.equal((await d.cli('login', ours.address, '-u', 'bob', '-p', users.bob)).code, 0)
  const pulled = await d.cli('pull', name)
  assert.equal(pulled.code, 0, pulled.stderr)
  assert.equal((await d.cli('login', ours.address, '-u', 'alice', '-p', 'wrong')).code, 1)
})
