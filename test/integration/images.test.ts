// The image store: content-addressed blobs, shared layers, overlay whiteouts, reference counting.
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { createGzip, gzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { BUSYBOX, busyboxTar, startDaemon, uniqueName } from '../helpers/daemon.ts'
import { makeDockerArchive, makeTar } from '../helpers/archive.ts'
import { raw } from '../helpers/raw.ts'

async function baseLayer(): Promise<Buffer> {
  // the busybox rootfs, so the image can run a shell
  return readFileSync(busyboxTar())
}

test('whiteouts and opaque directories in a later layer hide the earlier files', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const l1 = await baseLayer()
  const l2 = await makeTar([
    { name: 'data/', type: 'directory' },
    { name: 'data/a', content: 'a' },
    { name: 'data/b', content: 'b' },
    { name: 'keep', content: 'keep\n' },
    { name: 'gone', content: 'gone' },
  ])
  const l3 = await makeTar([
    { name: '.wh.gone' },
    { name: 'data/', type: 'directory' },
    { name: 'data/.wh..wh..opq' },
    { name: 'data/c', content: 'c' },
  ])
  const { archive, imageId } = await makeDockerArchive([l1, l2, l3], { tag: 'layered:1' })
  const loaded = await d.client.images.load(Readable.from([archive]))
  assert.match(loaded[0]!.stream!, /Loaded image: layered:1/)
  assert.equal((await d.client.images.inspect('layered:1')).Id, imageId)
  const r = await d.cli('run', '--rm', 'layered:1', 'sh', '-c', 'ls /data; cat /keep; test -e /gone && echo still-there || echo hidden')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'c\nkeep\nhidden\n')
})

test('two images with the same base share its layer on disk; rmi keeps what the other uses', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const base = await baseLayer()
  const one = await makeDockerArchive([base, await makeTar([{ name: 'one', content: '1' }])], { tag: 'one:1' })
  const two = await makeDockerArchive([base, await makeTar([{ name: 'two', content: '2' }])], { tag: 'two:1' })
  await d.client.images.load(Readable.from([one.archive]))
  await d.client.images.load(Readable.from([two.archive]))
  const layers = (): string[] => readdirSync(join(d.root, 'layers')).filter((n) => n.endsWith('.json'))
  assert.equal(layers().length, 3, 'base + one + two, the base unpacked once')
  const removed = await d.client.images.remove('one:1')
  assert.deepEqual(removed[0], { Untagged: 'one:1' })
  assert.equal(removed.filter((x) => x.Deleted).length, 2, 'the image and its own top layer')
  assert.equal(layers().length, 2)
  const r = await d.cli('run', '--rm', 'two:1', 'cat', '/two')
  assert.equal(r.stdout, '2')
})

test('an image used by a container cannot be removed without force; its layers stay until the container goes', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'] }, { name })
  const id = (await d.client.images.inspect(BUSYBOX)).Id
  await assert.rejects(d.client.images.remove(id), /image is being used by stopped container/)
  await assert.rejects(d.client.images.remove(BUSYBOX), /must force\) - container [a-f0-9]{12} is using its referenced image/)
  await d.client.images.remove(id, { force: true })
  assert.deepEqual(await d.client.images.list(), [])
  const layers = (): number => readdirSync(join(d.root, 'layers')).length
  assert.equal(layers(), 1, 'the container still holds its layer')
  const run = await d.cli('start', '-a', name)
  assert.equal(run.code, 0, `the container still runs: ${run.stderr}`)
  await d.client.containers.remove(name)
  assert.equal(layers(), 0, 'and the layer goes with the container')
})

test('tag, untag and delete by ID follow docker rmi', async (t) => {
  const d = await startDaemon(t)
  await d.client.images.tag(BUSYBOX, 'mine', 'v1')
  const id = (await d.client.images.inspect('mine:v1')).Id
  await assert.rejects(d.client.images.remove(id.slice(7, 19)), /image is referenced in multiple repositories/)
  assert.deepEqual(await d.client.images.remove('mine:v1'), [{ Untagged: 'mine:v1' }])
  const items = await d.client.images.remove(id.slice(7, 19))
  assert.deepEqual(items[0], { Untagged: 'busybox:latest' })
  assert.deepEqual(items[1], { Deleted: id })
  await assert.rejects(d.client.images.inspect(id), /No such image/)
})

test('save writes an OCI layout with docker manifest.json; load of an OCI-only layout works, for the platform asked', async (t) => {
  const d = await startDaemon(t)
  const saved = await d.cli('save', '-o', join(d.dir, 'out.tar'), BUSYBOX)
  assert.equal(saved.code, 0, saved.stderr)
  const { execFileSync } = await import('node:child_process')
  const names = execFileSync('tar', ['tf', join(d.dir, 'out.tar')], { encoding: 'utf8' }).split('\n')
  for (const n of ['oci-layout', 'index.json', 'manifest.json']) assert.ok(names.includes(n), n)
  // without manifest.json what remains is a plain OCI image layout
  const layout = join(d.dir, 'layout')
  execFileSync('mkdir', ['-p', layout])
  execFileSync('tar', ['-xf', join(d.dir, 'out.tar'), '-C', layout])
  execFileSync('rm', ['-f', join(layout, 'manifest.json'), join(layout, 'repositories')])
  execFileSync('tar', ['-cf', join(d.dir, 'out.tar'), '-C', layout, '.'])
  await d.client.images.remove(BUSYBOX)
  const loaded = await d.cli('load', '-i', join(d.dir, 'out.tar'))
  assert.equal(loaded.code, 0, loaded.stderr)
  assert.match(loaded.stdout, /Loaded image: busybox:latest/)

  // `platform` (1.48): an image for another platform is not loaded; the error comes in the stream.
  const archive = readFileSync(join(d.dir, 'out.tar'))
  const platform = (p: object): string => encodeURIComponent(JSON.stringify(p))
  const arch = (await d.client.images.inspect(BUSYBOX)).Architecture
  await d.client.images.remove(BUSYBOX)
  const other = await raw(d.socket, 'POST', `/v1.48/images/load?platform=${platform({ os: 'linux', architecture: arch === 'arm64' ? 'amd64' : 'arm64' })}`, archive, { 'Content-Type': 'application/x-tar' })
  assert.equal(other.status, 200)
  assert.match(other.body, /"errorDetail".*was found but does not match the specified platform/)
  await assert.rejects(d.client.images.inspect(BUSYBOX), 'nothing loaded')
  const same = await raw(d.socket, 'POST', `/v1.48/images/load?platform=${platform({ os: 'linux', architecture: arch })}`, archive, { 'Content-Type': 'application/x-tar' })
  assert.doesNotMatch(same.body, /errorDetail/, same.body)
  assert.equal((await d.client.images.inspect(BUSYBOX)).Architecture, arch)

  // Two images, the first of this platform and the second of another: the archive is refused whole, the first
  // not loaded either.
  const otherArch = arch === 'arm64' ? 'amd64' : 'arm64'
  mkdirSync(join(d.dir, 'rootfs'))
  writeFileSync(join(d.dir, 'rootfs/hello'), 'hi\n')
  execFileSync('tar', ['-cf', join(d.dir, 'rootfs.tar'), '-C', join(d.dir, 'rootfs'), '.'])
  const imported = await d.docker('import', '--platform', `linux/${otherArch}`, join(d.dir, 'rootfs.tar'), 'elsewhere:1')
  assert.equal(imported.code, 0, imported.stderr)
  assert.equal((await d.docker('save', '-o', join(d.dir, 'two.tar'), BUSYBOX, 'elsewhere:1')).code, 0)
  await d.client.images.remove(BUSYBOX)
  await d.client.images.remove('elsewhere:1')
  const two = await raw(d.socket, 'POST', `/v1.48/images/load?platform=${platform({ os: 'linux', architecture: arch })}`, readFileSync(join(d.dir, 'two.tar')), { 'Content-Type': 'application/x-tar' })
  assert.match(two.body, /"errorDetail".*elsewhere:1 was found but does not match the specified platform/, two.body)
  assert.deepEqual((await d.client.images.list()).map((i) => i.RepoTags), [], 'neither image loaded')
})

test('a layer tar cannot write outside its directory', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const evil = await makeTar([
    { name: 'link', type: 'symlink', linkname: '/tmp' },
    { name: 'link/escaped-by-cais-test', content: 'x' },
  ])
  await assert.rejects(d.client.images.import(Readable.from([evil])), /goes through a non-directory|invalid/)
  assert.deepEqual(readdirSync('/tmp').filter((n) => n === 'escaped-by-cais-test'), [])
  const dotdot = await makeTar([{ name: '../../escaped-by-cais-test', content: 'x' }])
  await assert.rejects(d.client.images.import(Readable.from([dotdot])), /leaves the archive/)
})

test('load takes an archive compressed as `docker save | gzip` makes it; a bomb in one (a huge manifest, endless entries) is refused, nothing kept, the daemon up', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const load = (body: Buffer): ReturnType<typeof raw> => raw(d.socket, 'POST', '/images/load?quiet=1', body, { 'Content-Type': 'application/x-tar' })
  const { archive, imageId } = await makeDockerArchive([await makeTar([{ name: 'hello', content: 'hi' }])], { tag: 'zipped:1' })
  const zipped = await load(gzipSync(archive))
  assert.equal(zipped.status, 200, zipped.body)
  assert.match(zipped.body, /Loaded image: zipped:1/)
  assert.equal((await d.client.images.inspect('zipped:1')).Id, imageId)

  // 9 MiB of manifest.json in a few kilobytes: read whole, it would be the daemon's memory the archive fills.
  const huge = gzipSync(await makeTar([{ name: 'manifest.json', content: `[${' '.repeat(9 * 1024 * 1024)}]` }]))
  assert.ok(huge.length < 64 * 1024)
  // As Docker's, the answer has begun before the archive is read: its error comes in the stream.
  const refused = await load(huge)
  assert.equal(refused.status, 200)
  assert.match(refused.body, /"errorDetail":\{"message":"invalid archive: manifest\.json/)
  assert.match(refused.body, /invalid archive: manifest\.json is 9437186 bytes, more than the 8388608 allowed/)

  // More entries than any image archive has (each an empty file, 512 bytes of header).
  const pack = tar.pack()
  const zipping = pack.pipe(createGzip())
  const chunks: Buffer[] = []
  zipping.on('data', (c: Buffer) => chunks.push(c))
  const done = new Promise((resolve) => zipping.on('end', resolve))
  for (let i = 0; i <= 100_000; i++) pack.entry({ name: `f${i}`, size: 0 }, '')
  pack.finalize()
  await done
  const endless = await load(Buffer.concat(chunks))
  assert.match(endless.body, /invalid archive: more than 100000 entries/)

  assert.deepEqual(readdirSync(join(d.root, 'content', 'ingest')), [], 'nothing staged is left')
  assert.deepEqual((await d.client.images.list()).map((i) => i.RepoTags), [['zipped:1']])
})
