import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statfsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, busyboxTar, startDaemon } from '../helpers/daemon.ts'
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
