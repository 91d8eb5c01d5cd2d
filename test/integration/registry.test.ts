import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { makeDockerArchive, makeTar } from '../helpers/archive.ts'
import { type TestDaemon, startDaemon } from '../helpers/daemon.ts'
import { raw } from '../helpers/raw.ts'
import { startFaultProxy, startRegistry } from '../helpers/registry.ts'

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

async function loadImage(d: TestDaemon, layers: Buffer[], tag: string, architecture?: string): Promise<string> {
  const { archive, imageId } = await makeDockerArchive(layers, { tag, ...(architecture ? { architecture } : {}) })
  const r = await d.cliWithInput(archive, 'load')
  assert.equal(r.code, 0, r.stderr)
  return imageId
}

const blobFiles = (d: TestDaemon): string[] => readdirSync(join(d.root, 'content/blobs/sha256'))
const ingestFiles = (d: TestDaemon): string[] => readdirSync(join(d.root, 'content/ingest'))

test('push then pull back: digests identical, layers already present are not fetched, the image runs', async (t) => {
  const reg = await startRegistry(t)
  const d = await startDaemon(t)
  const name = `${reg.address}/cais/busybox:1`
  await ok(d, 'tag', 'busybox:latest', name)
  const pushed = await ok(d, 'push', name)
  assert.match(pushed, /The push refers to repository \[127\.0\.0\.1:\d+\/cais\/busybox\]/)
  assert.match(pushed, /: Pushed/)
  const digest = /1: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(pushed)?.[1]
  assert.ok(digest, pushed)
  const before = await d.client.images.inspect(name)
  assert.deepEqual(before.RepoDigests, [`${reg.address}/cais/busybox@${digest}`])

  // A second push finds every blob on the registry.
  assert.match(await ok(d, 'push', name), /Layer already exists/)

  // Remove every trace of the image, then pull it back.
  await ok(d, 'rmi', name)
  await ok(d, 'rmi', 'busybox:latest')
  assert.equal((await d.client.images.list()).length, 0)
  const layerBlob = before.RootFS.Layers[0]!
  const pulled = await ok(d, 'pull', name)
  assert.match(pulled, /Pull complete/)
  assert.match(pulled, new RegExp(`Digest: ${digest}`))
  assert.match(pulled, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/cais\/busybox:1/)
  const after = await d.client.images.inspect(name)
  assert.equal(after.Id, before.Id, 'same image ID (config digest) after the round trip')
  assert.deepEqual(after.RepoDigests, before.RepoDigests)
  assert.deepEqual(after.RootFS.Layers, [layerBlob])
  assert.equal(reg.blobGets(digest), 0, 'manifests are not fetched as blobs')

  // Pulling again downloads nothing.
  const gets = reg.log().split('\n').filter((l) => l.includes('"GET /v2/cais/busybox/blobs/')).length
  const again = await ok(d, 'pull', name)
  assert.match(again, /Status: Image is up to date/)
  assert.equal(reg.log().split('\n').filter((l) => l.includes('"GET /v2/cais/busybox/blobs/')).length, gets)

  // By digest too.
  await ok(d, 'pull', `${reg.address}/cais/busybox@${digest}`)

  const run = await d.cli('run', '--rm', name, 'echo', 'pulled and running')
  assert.equal(run.stdout, 'pulled and running\n', run.stderr)

  // Removing the last tag removes the digest reference of that repository, and the image.
  const rmi = await ok(d, 'rmi', name)
  assert.match(rmi, /Untagged: 127\.0\.0\.1:\d+\/cais\/busybox:1/)
  assert.match(rmi, new RegExp(`Untagged: 127\\.0\\.0\\.1:\\d+/cais/busybox@${digest}`))
  assert.match(rmi, /Deleted: sha256:/)
})

test('push mounts a blob from a sibling repository and uploads big blobs in chunks', async (t) => {
  const reg = await startRegistry(t)
  const d = await startDaemon(t, { importBusybox: false })
  // 20 MB of noise: more than one 16 MiB upload chunk.
  const big = await makeTar([{ name: 'noise.bin', content: randomBytes(20 * 1024 * 1024) }])
  await loadImage(d, [big], `${reg.address}/first/big:1`)
  const first = await ok(d, 'push', `${reg.address}/first/big:1`)
  assert.match(first, /Pushed/)
  const patches = reg.log().split('\n').filter((l) => /"PATCH \/v2\/first\/big\/blobs\/uploads\//.test(l) && / 202 /.test(l)).length
  assert.equal(patches, 2, 'two PATCH chunks for 20 MB')

  await ok(d, 'tag', `${reg.address}/first/big:1`, `${reg.address}/second/big:1`)
  const second = await ok(d, 'push', `${reg.address}/second/big:1`)
  assert.match(second, /Mounted from first\/big/)
  assert.doesNotMatch(second, /Pushed/)
})

test('two images sharing a base layer: the base is downloaded once', async (t) => {
  const reg = await startRegistry(t)
  const d = await startDaemon(t, { importBusybox: false })
  const base = await makeTar([{ name: 'base.txt', content: 'base' }])
  const one = await makeTar([{ name: 'one.txt', content: 'one' }])
  const two = await makeTar([{ name: 'two.txt', content: 'two' }])
  await loadImage(d, [base, one], `${reg.address}/shared/one:1`)
  await loadImage(d, [base, two], `${reg.address}/shared/two:1`)
  await ok(d, 'push', `${reg.address}/shared/one:1`)
  await ok(d, 'push', `${reg.address}/shared/two:1`)
  const baseBlob = (await d.client.images.inspect(`${reg.address}/shared/one:1`)).RootFS.Layers[0]!

  const fresh = await startDaemon(t, { importBusybox: false })
  await ok(fresh, 'pull', `${reg.address}/shared/one:1`)
  const second = await ok(fresh, 'pull', `${reg.address}/shared/two:1`)
  assert.match(second, /Already exists/)
  assert.equal(reg.blobGets(baseBlob), 1, 'the shared base layer was fetched once')
})

test('a multi-platform index pulls the host platform; --platform picks another, for pull, create, build, image inspect and history', async (t) => {
  const reg = await startRegistry(t)
  const d = await startDaemon(t, { importBusybox: false })
  const amd = await loadImage(d, [await makeTar([{ name: 'arch', content: 'amd64' }])], `${reg.address}/multi:amd64`)
  const arm = await loadImage(d, [await makeTar([{ name: 'arch', content: 'arm64' }])], `${reg.address}/multi:arm64`, 'arm64')
  const manifestOf = async (tag: string): Promise<{ digest: string; size: number; mediaType: string }> => {
    const res = await fetch(`http://${reg.address}/v2/multi/manifests/${tag}`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })
    return { digest: res.headers.get('docker-content-digest')!, size: Number(res.headers.get('content-length')), mediaType: res.headers.get('content-type')! }
  }
  await ok(d, 'push', `${reg.address}/multi:amd64`)
  await ok(d, 'push', `${reg.address}/multi:arm64`)
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { ...(await manifestOf('arm64')), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { ...(await manifestOf('amd64')), platform: { os: 'linux', architecture: 'amd64' } },
    ],
  }
  const put = await fetch(`http://${reg.address}/v2/multi/manifests/latest`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
    body: JSON.stringify(index),
  })
  assert.equal(put.status, 201, await put.text())
  const indexDigest = put.headers.get('docker-content-digest')!
  await ok(d, 'rmi', `${reg.address}/multi:amd64`, `${reg.address}/multi:arm64`)

  await ok(d, 'pull', `${reg.address}/multi`)
  const host = await d.client.images.inspect(`${reg.address}/multi:latest`)
  assert.equal(host.Id, amd)
  assert.ok(host.RepoDigests.includes(`${reg.address}/multi@${indexDigest}`), 'RepoDigests names the index')

  await ok(d, 'pull', '--platform', 'linux/arm64', `${reg.address}/multi`)
  assert.equal((await d.client.images.inspect(`${reg.address}/multi:latest`)).Id, arm)

  const none = await d.cli('pull', '--platform', 'linux/s390x', `${reg.address}/multi`)
  assert.equal(none.code, 1)
  assert.match(none.stderr, /no matching manifest for linux\/s390x in the manifest list entries/)

  // Here for arm64 only: asked for amd64, create answers 404 with Docker's words, and the CLI pulls amd64 then creates.
  const mismatch = await raw(d.socket, 'POST', `/v1.50/containers/create?platform=linux/amd64`, JSON.stringify({ Image: `${reg.address}/multi`, Cmd: ['true'] }), { 'Content-Type': 'application/json' })
  assert.equal(mismatch.status, 404)
  assert.equal((JSON.parse(mismatch.body) as { message: string }).message, `image with reference ${reg.address}/multi was found but does not match the specified platform: wanted linux/amd64, actual: linux/arm64`)
  assert.equal((await raw(d.socket, 'POST', `/v1.40/containers/create?platform=linux/amd64`, JSON.stringify({ Image: `${reg.address}/multi`, Cmd: ['true'] }), { 'Content-Type': 'application/json' })).status, 201, 'platform came with 1.41')
  const created = await d.cli('create', '--platform', 'linux/amd64', `${reg.address}/multi`, 'true')
  assert.equal(created.code, 0, created.stderr)
  assert.match(created.stderr, new RegExp(`Unable to find image '${reg.address}/multi:latest' locally`))
  assert.equal((await d.client.images.inspect(`${reg.address}/multi:latest`)).Id, amd)

  // The JSON platform of image inspect (1.49) and history (1.48).
  const inspectAt = async (version: string, platform: object): Promise<number> => (await raw(d.socket, 'GET', `/v${version}/images/${reg.address}/multi/json?platform=${encodeURIComponent(JSON.stringify(platform))}`)).status
  assert.equal(await inspectAt('1.49', { os: 'linux', architecture: 'arm64' }), 404)
  assert.equal(await inspectAt('1.48', { os: 'linux', architecture: 'arm64' }), 200, 'ignored before 1.49')
  assert.equal(await inspectAt('1.49', { os: 'linux', architecture: 'amd64' }), 200)
  assert.equal((await raw(d.socket, 'GET', `/v1.48/images/${reg.address}/multi/history?platform=${encodeURIComponent('{"os":"linux","architecture":"arm64"}')}`)).status, 404)
  assert.equal((await raw(d.socket, 'GET', `/v1.49/images/${reg.address}/multi/json?platform=nope`)).status, 400)

  // A single-platform image pulled for another platform is kept, with Docker's warning.
  const single = await ok(d, 'pull', '--platform', 'linux/arm64', `${reg.address}/multi:amd64`)
  assert.match(single, new RegExp(`WARNING: image with reference ${reg.address}/multi:amd64 was found but does not match the specified platform: wanted linux/arm64/v8, actual: linux/amd64`))

  // A build for arm64 starts from the index's arm64 image, though the amd64 one is here.
  const context = await makeTar([{ name: 'Dockerfile', content: `FROM ${reg.address}/multi\nLABEL built=yes\n` }])
  const build = await raw(d.socket, 'POST', `/v1.50/build?t=built-arm&platform=linux/arm64`, context, { 'Content-Type': 'application/x-tar' })
  assert.equal(build.status, 200, build.body)
  assert.doesNotMatch(build.body, /errorDetail/, build.body)
  const built = await d.client.images.inspect('built-arm')
  assert.equal(built.Architecture, 'arm64')
  assert.deepEqual(built.RootFS.Layers, (await d.client.images.inspect(arm)).RootFS.Layers)

  // Save (1.48) and push (1.46) of the arm64 image here (the build pulled it), for amd64: refused before anything is sent.
  const amd64 = encodeURIComponent('{"os":"linux","architecture":"amd64"}')
  assert.equal((await raw(d.socket, 'GET', `/v1.48/images/get?names=${reg.address}/multi&platform=${amd64}`)).status, 404, 'save')
  assert.equal((await raw(d.socket, 'POST', `/v1.46/images/${reg.address}/multi/push?tag=latest&platform=${amd64}`)).status, 404, 'push')
  assert.equal((await raw(d.socket, 'POST', `/v1.45/images/${reg.address}/multi/push?tag=latest&platform=${amd64}`)).status, 200, 'push before 1.46 ignores it')
})

test('a reset mid-blob and a corrupted blob fail cleanly; nothing half-made is kept; a retry succeeds', async (t) => {
  const reg = await startRegistry(t)
  const d = await startDaemon(t, { importBusybox: false })
  const layer = await makeTar([{ name: 'data.bin', content: randomBytes(4 * 1024 * 1024) }])
  const id = await loadImage(d, [layer], `${reg.address}/faulty:1`)
  await ok(d, 'push', `${reg.address}/faulty:1`)
  const proxy = await startFaultProxy(t, reg.address)
  const fresh = await startDaemon(t, { importBusybox: false })
  const name = `${proxy.address}/faulty:1`
  const blobsBefore = blobFiles(fresh)

  proxy.setMode('corrupt')
  const corrupt = await fresh.cli('pull', name)
  assert.equal(corrupt.code, 1)
  assert.match(corrupt.stderr, /digest mismatch/)
  assert.equal((await fresh.client.images.list()).length, 0)
  assert.deepEqual(ingestFiles(fresh), [], 'no temp file left')
  assert.equal(blobFiles(fresh).filter((b) => !blobsBefore.includes(b)).includes(layerDigest(layer).slice(7)), false, 'the bad blob is not stored')

  proxy.setMode('reset')
  const reset = await fresh.cli('pull', name)
  assert.equal(reset.code, 1)
  assert.match(reset.stderr, /failed to pull layer|reset|socket hang up|aborted/i)
  assert.equal((await fresh.client.images.list()).length, 0)
  assert.deepEqual(ingestFiles(fresh), [])

  proxy.setMode('pass')
  await ok(fresh, 'pull', name)
  assert.equal((await fresh.client.images.inspect(name)).Id, id)

  // The registry itself gone: a clear error, the daemon still answers.
  await reg.kill()
  const gone = await fresh.cli('pull', `${reg.address}/faulty:2`)
  assert.equal(gone.code, 1)
  assert.match(gone.stderr, /connection refused/)
  assert.equal((await fresh.client.images.list()).length, 1)
})

const layerDigest = (layer: Buffer): string => `sha256:${createHash('sha256').update(layer).digest('hex')}`

test('basic auth (htpasswd): anonymous push is refused, login checks the password, credentials reach the registry', async (t) => {
  const reg = await startRegistry(t, { htpasswd: { user: 'alice', password: 's3cret' } })
  const d = await startDaemon(t)
  const name = `${reg.address}/private/busybox:1`
  await ok(d, 'tag', 'busybox:latest', name)

  const anon = await d.cli('push', name)
  assert.equal(anon.code, 1)
  assert.match(anon.stderr, /unauthorized/)

  const bad = await d.cliWithInput('wrong\n', 'login', '-u', 'alice', '--password-stdin', reg.address)
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /unauthorized/)
  assert.equal(existsSync(join(d.dir, 'cais-config/config.json')), false, 'nothing stored after a failed login')

  const good = await d.cliWithInput('s3cret\n', 'login', '-u', 'alice', '--password-stdin', reg.address)
  assert.equal(good.code, 0, good.stderr)
  assert.match(good.stdout, /Login Succeeded/)
  await ok(d, 'push', name)
  await ok(d, 'rmi', name)
  await ok(d, 'pull', name)

  assert.match(await ok(d, 'logout', reg.address), /Removing login credentials/)
  await ok(d, 'rmi', name)
  const after = await d.cli('pull', name)
  assert.equal(after.code, 1)
  assert.match(after.stderr, /unauthorized|pull access denied/)
})

test('token auth: bearer tokens from a token server, scoped per repository', async (t) => {
  const reg = await startRegistry(t, { token: { user: 'bob', password: 'hunter2' } })
  const d = await startDaemon(t)
  const name = `${reg.address}/team/app:1`
  await ok(d, 'tag', 'busybox:latest', name)
  const anon = await d.cli('push', name)
  assert.equal(anon.code, 1)
  assert.match(anon.stderr, /unauthorized|denied/)

  const bad = await d.cliWithInput('nope\n', 'login', '-u', 'bob', '--password-stdin', reg.address)
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /incorrect username or password/)

  await d.cliWithInput('hunter2\n', 'login', '-u', 'bob', '--password-stdin', reg.address)
  assert.match(await ok(d, 'push', name), /digest: sha256:/)
  await ok(d, 'rmi', name)
  assert.match(await ok(d, 'pull', name), /Downloaded newer image/)
})

test('bad references and unknown images: Docker\'s errors', async (t) => {
  const reg = await startRegistry(t)
  const d = await startDaemon(t, { importBusybox: false })
  const upper = await d.cli('pull', `${reg.address}/UPPER:1`)
  assert.equal(upper.code, 1)
  assert.match(upper.stderr, /invalid reference format: repository name \(UPPER\) must be lowercase/)
  const missing = await d.cli('pull', `${reg.address}/nothing:here`)
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /manifest for 127\.0\.0\.1:\d+\/nothing:here not found: manifest unknown/)
  const push = await d.cli('push', `${reg.address}/not/local:1`)
  assert.equal(push.code, 1)
  assert.match(push.stderr, /An image does not exist locally with the tag: 127\.0\.0\.1:\d+\/not\/local/)
  const search = await d.cli('search', `${reg.address}/anything`)
  assert.equal(search.code, 1)
  assert.match(search.stderr, /Unexpected status code 404/)
})

test('pull --all-tags fetches every tag of a repository', async (t) => {
  const reg = await startRegistry(t)
  const d = await startDaemon(t, { importBusybox: false })
  const one = await loadImage(d, [await makeTar([{ name: 'v', content: 'one' }])], `${reg.address}/tags/app:one`)
  const two = await loadImage(d, [await makeTar([{ name: 'v', content: 'two' }])], `${reg.address}/tags/app:two`)
  await ok(d, 'push', `${reg.address}/tags/app:one`)
  await ok(d, 'push', `${reg.address}/tags/app:two`)
  await ok(d, 'rmi', `${reg.address}/tags/app:one`, `${reg.address}/tags/app:two`)
  const out = await ok(d, 'pull', '--all-tags', `${reg.address}/tags/app`)
  assert.match(out, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/tags\/app/)
  assert.equal((await d.client.images.inspect(`${reg.address}/tags/app:one`)).Id, one)
  assert.equal((await d.client.images.inspect(`${reg.address}/tags/app:two`)).Id, two)
  const both = await d.cli('pull', '-a', `${reg.address}/tags/app:one`)
  assert.equal(both.code, 1)
  assert.match(both.stderr, /tag can't be used with --all-tags\/-a/)
})

test("GET /distribution/{name}/json: the registry's descriptor and platforms, without a pull", async (t) => {
  const reg = await startRegistry(t)
  const d = await startDaemon(t)
  const name = `${reg.address}/cais/dist:1`
  await ok(d, 'tag', 'busybox:latest', name)
  const digest = /digest: (sha256:[a-f0-9]{64}) size: (\d+)/.exec(await ok(d, 'push', name))
  assert.ok(digest)
  const view = await d.client.http.json<{ Descriptor: { mediaType: string; digest: string; size: number }; Platforms: unknown[] }>(
    'GET',
    `/distribution/${name}/json`,
  )
  assert.deepEqual(view.Descriptor, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest[1], size: Number(digest[2]) })
  assert.deepEqual(view.Platforms, [{ architecture: 'amd64', os: 'linux' }])
  const byDigest = await d.client.http.json<{ Descriptor: { digest: string } }>('GET', `/distribution/${reg.address}/cais/dist@${digest[1]}/json`)
  assert.equal(byDigest.Descriptor.digest, digest[1])
  await assert.rejects(d.client.http.json('GET', `/distribution/${reg.address}/cais/dist:nope/json`), (err: Error & { status?: number }) => {
    assert.equal(err.status, 404)
    assert.match(err.message, /manifest unknown/)
    return true
  })
})
