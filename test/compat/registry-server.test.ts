// cais registry serve against real clients: skopeo (copy in and out, list-tags, delete), Debian's docker-registry as
// the reference peer (copies both ways, identical digests), caisd pushing and pulling through it; and the
// protocol's edge cases on the wire: chunks out of order, wrong digests, missing references, ranges, pagination,
// referrers, and an upload resumed across a restart of the server.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { BUSYBOX, busyboxTar, repoRoot, runCommand, startDaemon, waitFor } from '../helpers/daemon.ts'
import { freePort, startRegistry } from '../helpers/registry.ts'

const noSkopeo = existsSync('/usr/bin/skopeo') ? false : 'skopeo is not installed (scripts/setup.sh installs it)'

interface OurRegistry {
  address: string
  url: string
  restart(): Promise<void>
  log(): string
}

async function startOurs(t: TestContext): Promise<OurRegistry> {
  const dir = mkdtempSync('/tmp/cais-test-our-registry-')
  const port = await freePort()
  let child: ChildProcess | undefined
  let log = ''
  const start = async (): Promise<void> => {
    child = spawn(join(repoRoot, 'bin/cais'), ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', join(dir, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()))
    await waitFor('the registry to listen', async () => ((await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined))?.status === 200 ? true : undefined))
  }
  const stop = async (): Promise<void> => {
    const c = child
    if (!c || c.exitCode !== null) return
    c.kill('SIGKILL')
    await new Promise((r) => c.once('exit', r))
  }
  t.after(async () => {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })
  await start()
  return { address: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, restart: async () => (await stop(), await start()), log: () => log }
}

async function skopeo(...args: string[]): Promise<string> {
  const r = await runCommand('skopeo', args, { timeoutMs: 60_000 })
  assert.equal(r.code, 0, `skopeo ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
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
