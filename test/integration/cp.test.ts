import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, dockerBin, startDaemon } from '../helpers/daemon.ts'
import { raw } from '../helpers/raw.ts'

const skipDocker = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync('/tmp/cais-test-cp-')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('cp out of a container: a file, a renamed file, a directory tree, from a stopped container too', async (t) => {
  const d = await startDaemon(t)
  const local = tempDir(t)
  await ok(d, 'run', '-d', '--name', 'src', BUSYBOX, 'sh', '-c', 'mkdir -p /data/sub && echo one > /data/one.txt && echo two > /data/sub/two.txt && ln -s one.txt /data/link && sleep 300')
  await new Promise((r) => setTimeout(r, 300))
  await ok(d, 'cp', 'src:/data/one.txt', local)
  assert.equal(readFileSync(join(local, 'one.txt'), 'utf8'), 'one\n')
  await ok(d, 'cp', 'src:/data/one.txt', join(local, 'renamed.txt'))
  assert.equal(readFileSync(join(local, 'renamed.txt'), 'utf8'), 'one\n')
  await ok(d, 'cp', 'src:/data', join(local, 'copy'))
  assert.equal(readFileSync(join(local, 'copy/sub/two.txt'), 'utf8'), 'two\n')
  assert.deepEqual(readdirSync(join(local, 'copy')).sort(), ['link', 'one.txt', 'sub'])
  await ok(d, 'cp', 'src:/data/.', join(local, 'copy'))

  await ok(d, 'stop', '-t', '0', 'src')
  await ok(d, 'cp', 'src:/data/sub/two.txt', join(local, 'stopped.txt'))
  assert.equal(readFileSync(join(local, 'stopped.txt'), 'utf8'), 'two\n')

  const missing = await d.cli('cp', 'src:/nope', local)
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /Could not find the file \/nope in container/)
  const noContainer = await d.cli('cp', 'ghost:/etc', local)
  assert.equal(noContainer.code, 1)
  assert.match(noContainer.stderr, /No such container: ghost/)
})

test('cp into a container: into a directory, under a new name, a tree; a stopped container too', async (t) => {
  const d = await startDaemon(t)
  const local = tempDir(t)
  writeFileSync(join(local, 'in.txt'), 'inbound\n')
  mkdirSync(join(local, 'tree/deep'), { recursive: true })
  writeFileSync(join(local, 'tree/deep/leaf'), 'leaf\n')
  await ok(d, 'run', '-d', '--name', 'dst', BUSYBOX, 'sleep', '300')
  await ok(d, 'cp', join(local, 'in.txt'), 'dst:/tmp')
  assert.equal(await ok(d, 'exec', 'dst', 'cat', '/tmp/in.txt'), 'inbound\n')
  assert.match(await ok(d, 'exec', 'dst', 'stat', '-c', '%u:%g', '/tmp/in.txt'), /^0:0/, 'owned by root without -a')
  await ok(d, 'cp', join(local, 'in.txt'), 'dst:/tmp/other-name')
  assert.equal(await ok(d, 'exec', 'dst', 'cat', '/tmp/other-name'), 'inbound\n')
  await ok(d, 'cp', join(local, 'tree'), 'dst:/tmp')
  assert.equal(await ok(d, 'exec', 'dst', 'cat', '/tmp/tree/deep/leaf'), 'leaf\n')
  // A destination that does not exist is made from the source, as Docker's: /opt is the tree.
  await ok(d, 'cp', join(local, 'tree'), 'dst:/opt')
  assert.equal(await ok(d, 'exec', 'dst', 'cat', '/opt/deep/leaf'), 'leaf\n')

  await ok(d, 'create', '--name', 'cold', BUSYBOX, 'cat', '/etc/config.txt')
  await ok(d, 'cp', join(local, 'in.txt'), 'cold:/etc/config.txt')
  assert.equal((await d.cli('start', '-a', 'cold')).stdout, 'inbound\n')

  const noDir = await d.cli('cp', join(local, 'in.txt'), 'dst:/no/such/dir/file')
  assert.equal(noDir.code, 1)
  assert.match(noDir.stderr, /Could not find the file \/no\/such\/dir in container/)
})

test('cp never leaves the container root: malicious symlinks and .. resolve inside it', async (t) => {
  const d = await startDaemon(t)
  const local = tempDir(t)
  const marker = `cais-cp-traversal-${process.pid}`
  // Links that would point at the host's root if followed on the host.
  await ok(d, 'run', '-d', '--name', 'evil', BUSYBOX, 'sh', '-c', `echo container-secret > /etc/${marker} && ln -s / /evil && ln -s ../../../../../../ /tmp/up && ln -s /etc /etclink && sleep 300`)
  await new Promise((r) => setTimeout(r, 300))

  await ok(d, 'cp', `evil:/evil/etc/${marker}`, join(local, 'a'))
  assert.equal(readFileSync(join(local, 'a'), 'utf8'), 'container-secret\n')
  await ok(d, 'cp', `evil:/tmp/up/etc/${marker}`, join(local, 'b'))
  assert.equal(readFileSync(join(local, 'b'), 'utf8'), 'container-secret\n')
  await ok(d, 'cp', 'evil:/../../../../../etc/passwd', join(local, 'passwd'))
  assert.equal(readFileSync(join(local, 'passwd'), 'utf8'), await ok(d, 'exec', 'evil', 'cat', '/etc/passwd'), "the container's passwd, not the host's")

  // Writes through the links land in the container, never on the host.
  writeFileSync(join(local, 'payload'), 'payload\n')
  await ok(d, 'cp', join(local, 'payload'), `evil:/evil/tmp/${marker}`)
  await ok(d, 'cp', join(local, 'payload'), `evil:/tmp/up/etclink/`)
  assert.equal(existsSync(`/tmp/${marker}`), false, 'nothing written to the host /tmp')
  assert.equal(existsSync('/etc/payload'), false, 'nothing written to the host /etc')
  assert.equal(await ok(d, 'exec', 'evil', 'cat', `/tmp/${marker}`), 'payload\n')
  assert.equal(await ok(d, 'exec', 'evil', 'cat', '/etc/payload'), 'payload\n')

  // A tar that tries to climb out or to write through a link is refused.
  const climbing = await d.cliWithInput(await tarWith('../../escape', 'x'), 'cp', '-', 'evil:/tmp')
  assert.equal(climbing.code, 1)
  const through = await d.cliWithInput(await tarWith('etclink/through', 'x'), 'cp', '-', 'evil:/')
  assert.equal(through.code, 1)
  assert.match(through.stderr, /through a non-directory/)
  assert.equal(existsSync('/etc/through'), false)
})

test('an upload refused part-way is answered once the client has sent the rest: a client still sending reads the refusal', async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'run', '-d', '--name', 'target', BUSYBOX, 'sh', '-c', 'ln -s /etc /etclink && sleep 300')
  await new Promise((r) => setTimeout(r, 300))
  const tar = await tarWith('etclink/through', 'x')
  const socket = connect(d.socket)
  await once(socket, 'connect')
  // Nothing is read until everything is sent, as a client busy uploading: if the daemon answered and closed at
  // the bad entry, the later write would fail and the answer be lost with the connection.
  socket.pause()
  socket.write(`PUT /v1.47/containers/target/archive?path=/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-tar\r\n\r\n`)
  socket.write(`${tar.length.toString(16)}\r\n`)
  socket.write(tar)
  socket.write('\r\n')
  await new Promise((r) => setTimeout(r, 500))
  const written = new Promise<void>((resolve, reject) => socket.write('0\r\n\r\n', (err) => (err ? reject(err) : resolve())))
  await written
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.resume()
  await once(socket, 'end')
  const answer = Buffer.concat(chunks).toString()
  assert.match(answer, /^HTTP\/1\.1 400 /)
  assert.match(answer, /through a non-directory/)
  assert.equal((await ok(d, 'exec', 'target', 'ls', '/etc')).includes('through'), false)
})

async function tarWith(name: string, content: string): Promise<Buffer> {
  const { makeTar } = await import('../helpers/archive.ts')
  return makeTar([{ name, content }])
}

test('the docker CLI: docker cp both ways', { skip: skipDocker }, async (t) => {
  const d = await startDaemon(t)
  const local = tempDir(t)
  writeFileSync(join(local, 'up.txt'), 'uploaded\n')
  assert.equal((await d.docker('run', '-d', '--name', 'dcp', BUSYBOX, 'sleep', '300')).code, 0)
  const up = await d.docker('cp', join(local, 'up.txt'), 'dcp:/tmp/')
  assert.equal(up.code, 0, up.stderr)
  assert.equal((await d.docker('exec', 'dcp', 'cat', '/tmp/up.txt')).stdout, 'uploaded\n')
  const down = await d.docker('cp', 'dcp:/etc/passwd', join(local, 'passwd'))
  assert.equal(down.code, 0, down.stderr)
  assert.match(readFileSync(join(local, 'passwd'), 'utf8'), /^root:/)
  const dir = await d.docker('cp', 'dcp:/etc', join(local, 'etc'))
  assert.equal(dir.code, 0, dir.stderr)
  assert.ok(existsSync(join(local, 'etc/passwd')))
  const missing = await d.docker('cp', 'dcp:/nope', local)
  assert.notEqual(missing.code, 0)
  assert.match(missing.stderr, /Could not find the file \/nope in container|No such container:path/)
})

test('cp and read-only places, as Docker: a read-only root takes a copy into its writable volume only; a read-only mount and an image mount refuse one; an image mount copies out', { skip: skipDocker }, async (t) => {
  const d = await startDaemon(t)
  const local = tempDir(t)
  writeFileSync(join(local, 'in.txt'), 'inbound\n')
  const docker = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => d.docker(...args)
  assert.equal((await docker('commit', (await docker('create', BUSYBOX)).stdout.trim(), 'imagemount:1')).code, 0)
  const made = await docker('create', '--name', 'ro', '--read-only', '-v', 'rw-vol:/rw', '-v', 'ro-vol:/ro:ro', '--mount', 'type=image,source=imagemount:1,target=/img', BUSYBOX, 'cat', '/rw/in.txt')
  assert.equal(made.code, 0, made.stderr)

  const intoVolume = await docker('cp', join(local, 'in.txt'), 'ro:/rw/')
  assert.equal(intoVolume.code, 0, `the volume is writable though the root is not: ${intoVolume.stderr}`)
  assert.equal((await docker('start', '-a', 'ro')).stdout, 'inbound\n')
  for (const [target, message] of [
    ['ro:/tmp/', 'container rootfs is marked read-only'],
    ['ro:/ro/', 'mounted volume is marked read-only'],
    ['ro:/img/', 'mounted volume is marked read-only'],
  ] as const) {
    const refused = await docker('cp', join(local, 'in.txt'), target)
    assert.equal(refused.code, 1, target)
    assert.match(refused.stderr, new RegExp(message), target)
  }
  // Out of an image mount: its image's files, the container stopped (mounted for the copy, and not left so).
  const fromImageMount = await docker('cp', 'ro:/img/etc/passwd', join(local, 'passwd'))
  assert.equal(fromImageMount.code, 0, fromImageMount.stderr)
  assert.match(readFileSync(join(local, 'passwd'), 'utf8'), /^root:/)
  assert.deepEqual(readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(d.root) && l.includes('/images/')), [])
  const put = await raw(d.socket, 'PUT', '/containers/ro/archive?path=%2Fro', Buffer.alloc(1024), { 'Content-Type': 'application/x-tar' })
  assert.deepEqual({ status: put.status, body: JSON.parse(put.body) as unknown }, { status: 500, body: { message: 'mounted volume is marked read-only' } }, "Docker's status")
  assert.equal((await docker('run', '--rm', '-v', 'ro-vol:/v', BUSYBOX, 'ls', '-A', '/v')).stdout, '', 'nothing reached the read-only volume')
})
