import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, busyboxTar, dockerBin, runCommand, startDaemon } from '../helpers/daemon.ts'
import { startRegistry } from '../helpers/registry.ts'

const ENOSPC = /no space left on device/

test('a full disk: every write fails with "no space left on device", leaves nothing half-made and the daemon up; a container logging to it neither blocks nor dies; with space freed everything works again', async (t) => {
  // The daemon's --root on a small tmpfs of the test's own.
  const disk = mkdtempSync('/tmp/cais-test-disk-')
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', disk])
  t.after(() => {
    execFileSync('umount', ['-l', disk])
    rmSync(disk, { recursive: true, force: true })
  })
  const root = join(disk, 'root')
  const d = await startDaemon(t, { args: ['--root', root] })
  const registry = await startRegistry(t)
  const ok = async (...args: string[]): Promise<string> => {
    const r = await d.docker(...args)
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`)
    return r.stdout.trim()
  }
  const fails = async (...args: string[]): Promise<string> => {
    const r = await d.docker(...args)
    assert.notEqual(r.code, 0, `docker ${args.join(' ')} should fail on a full disk:\n${r.stdout}`)
    assert.match(r.stderr, ENOSPC, `docker ${args.join(' ')}`)
    assert.doesNotMatch(r.stderr, /ENOSPC/, 'worded as Docker words it')
    return r.stderr
  }

  await ok('run', '--name', 'writer', '--network', 'none', BUSYBOX, 'sh', '-c', 'head -c 3000000 /dev/urandom > /big')
  // In the registry, an image of 3 MB of its own to pull.
  const pulled = `${registry.address}/full/disk:1`
  await ok('commit', 'writer', pulled)
  await ok('push', pulled)
  const saved = join(d.dir, 'saved.tar')
  await ok('save', '-o', saved, pulled)
  await ok('rmi', pulled)
  await ok('run', '-d', '--name', 'talker', '--network', 'none', BUSYBOX, 'sh', '-c', 'trap "exit 0" TERM; while :; do echo talking; sleep 0.01; done')
  const before = { images: await ok('images', '-q', '--no-trunc'), containers: await ok('ps', '-aq', '--no-trunc'), volumes: await ok('volume', 'ls', '-q') }

  // Fill the disk.
  const filler = join(disk, 'filler')
  const free = (): number => {
    const s = statfsSync(disk)
    return s.bavail * s.bsize
  }
  execFileSync('fallocate', ['-l', String(free()), filler])
  t.after(() => rmSync(filler, { force: true }))

  await fails('load', '-i', saved)
  await fails('import', busyboxTar(), 'full/import:1')
  await fails('commit', 'writer', 'full/commit:1')
  await fails('pull', pulled)
  await fails('create', '--name', 'newcomer', '--network', 'none', BUSYBOX, 'true')
  await fails('volume', 'create', 'newvolume')
  // The talker goes on writing its log: its output is lost, not its life.
  await new Promise((r) => setTimeout(r, 1500))
  assert.equal(await ok('inspect', '-f', '{{.State.Status}}', 'talker'), 'running')
  // A new container cannot even be recorded: run fails at once, as docker's does, rather than hanging.
  const quick = await d.docker('run', '--rm', '--network', 'none', BUSYBOX, 'sh', '-c', 'echo never')
  assert.equal(quick.code, 125, quick.stderr)
  assert.match(quick.stderr, ENOSPC)

  assert.equal(await ok('version', '--format', '{{.Server.Version}}') !== '', true, 'the daemon answers')
  assert.deepEqual({ images: await ok('images', '-q', '--no-trunc'), containers: await ok('ps', '-aq', '--no-trunc'), volumes: await ok('volume', 'ls', '-q') }, before, 'nothing half-made is visible')
  const check = await d.cli('system', 'check')
  assert.equal(check.code, 0, check.stdout)

  // Space freed: the same calls work.
  rmSync(filler)
  await ok('pull', pulled)
  await ok('rmi', pulled)
  await ok('load', '-i', saved)
  await ok('import', busyboxTar(), 'full/import:1')
  await ok('commit', 'writer', 'full/commit:1')
  await ok('create', '--name', 'newcomer', '--network', 'none', BUSYBOX, 'true')
  await ok('volume', 'create', 'newvolume')
  assert.equal(await ok('run', '--rm', '--network', 'none', '-v', 'newvolume:/data', 'full/commit:1', 'sh', '-c', 'wc -c < /big'), '3000000')
  assert.match(await ok('logs', '--tail', '1', 'talker'), /^talking$/)
  assert.equal((await d.cli('system', 'check')).code, 0)
})

test('a full disk under a volume copy-up and a build step: the copy fails with "no space left on device" and leaves the volume empty, the step fails and leaves no image, a container exiting meanwhile does not take the daemon down; with space freed both work', async (t) => {
  const disk = mkdtempSync('/tmp/cais-test-disk-')
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', disk])
  t.after(() => {
    execFileSync('umount', ['-l', disk])
    rmSync(disk, { recursive: true, force: true })
  })
  const d = await startDaemon(t, { args: ['--root', join(disk, 'root')] })
  const ok = async (...args: string[]): Promise<string> => {
    const r = await d.docker(...args)
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`)
    return r.stdout.trim()
  }
  // An image whose /data holds 4 MB that a new volume mounted there is given at create (copy-up).
  await ok('run', '--name', 'maker', '--network', 'none', BUSYBOX, 'sh', '-c', 'mkdir /data && head -c 4000000 /dev/urandom > /data/big && echo small > /data/small')
  await ok('commit', 'maker', 'full/data:1')
  await ok('rm', 'maker')
  const context = join(d.dir, 'context')
  mkdirSync(context)
  writeFileSync(join(context, 'Dockerfile'), `FROM ${BUSYBOX}\nRUN head -c 6000000 /dev/urandom > /blob\n`)
  const imagesBefore = await ok('images', '-aq', '--no-trunc')

  const filler = join(disk, 'filler')
  const s = statfsSync(disk)
  execFileSync('fallocate', ['-l', String(s.bavail * s.bsize - 2 * 1024 * 1024), filler])
  t.after(() => rmSync(filler, { force: true }))

  // The volume's record fits; the image's 4 MB do not. The create copies at once and fails quietly (as Docker's);
  // the start copies again and fails aloud, and what it copied is gone, not half kept.
  await ok('create', '--name', 'copier', '--network', 'none', '-v', 'cv:/data', 'full/data:1', 'true')
  const start = await d.docker('start', 'copier')
  assert.notEqual(start.code, 0)
  assert.match(start.stderr, /no space left on device/)
  const volumeData = await ok('volume', 'inspect', '-f', '{{.Mountpoint}}', 'cv')
  assert.deepEqual(readdirSync(volumeData), [], 'a copy cut short is removed')

  // The step's own process meets the full disk and fails the step. (Its words are lost here: the builder follows a
  // step through the container's log, which the full disk stops; Docker's attaches to the step's output.)
  const build = await runCommand(dockerBin, ['-H', `unix://${d.socket}`, 'build', '--force-rm', '-t', 'full/built:1', context], { env: { ...process.env, DOCKER_BUILDKIT: '0' } })
  assert.notEqual(build.code, 0, build.stdout)
  assert.match(build.stderr + build.stdout, /The command '\/bin\/sh -c head -c 6000000 \/dev\/urandom > \/blob' returned a non-zero code: 1/)
  assert.equal(await ok('images', '-aq', '--no-trunc'), imagesBefore, 'no image, not even an intermediate one, is left')
  assert.deepEqual((await ok('ps', '-a', '--format', '{{.Names}}')).split('\n').sort(), ['copier'], 'no build container is left')
  assert.equal((await d.cli('system', 'check')).code, 0)

  rmSync(filler)
  await ok('start', '-a', 'copier')
  assert.equal(await ok('run', '--rm', '--network', 'none', '-v', 'cv:/data', BUSYBOX, 'sh', '-c', 'wc -c < /data/big; cat /data/small'), '4000000\nsmall')
  const rebuilt = await runCommand(dockerBin, ['-H', `unix://${d.socket}`, 'build', '-q', '-t', 'full/built:1', context], { env: { ...process.env, DOCKER_BUILDKIT: '0' } })
  assert.equal(rebuilt.code, 0, rebuilt.stderr)
  assert.equal(await ok('run', '--rm', '--network', 'none', 'full/built:1', 'sh', '-c', 'wc -c < /blob'), '6000000')
  assert.equal((await d.cli('system', 'check')).code, 0)
})
