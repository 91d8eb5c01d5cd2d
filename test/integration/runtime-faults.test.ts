// Faults under running containers: each leaves the user a clear state and error, and the daemon recovers what it can.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, startDaemon, waitFor } from '../helpers/daemon.ts'

const LOOP = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.docker(...args)
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

test('conmon killed under a running container: the container is marked exited with the reason, its process does not outlive it, and it starts again', async (t) => {
  const d = await startDaemon(t)
  const id = await ok(d, 'run', '-d', '--network', 'none', BUSYBOX, ...LOOP)
  const pid = Number(await ok(d, 'inspect', '-f', '{{.State.Pid}}', id))
  const conmon = Number(readFileSync(join(d.execRoot, 'containers', id, 'conmon.pid'), 'utf8'))
  process.kill(conmon, 'SIGKILL')
  await waitFor('the container marked exited', async () => (await ok(d, 'inspect', '-f', '{{.State.Status}}', id)) === 'exited', 15_000)
  assert.match(await ok(d, 'inspect', '-f', '{{.State.Error}}', id), /conmon/)
  await waitFor('its process gone', () => !alive(pid))
  await ok(d, 'start', id)
  assert.equal(await ok(d, 'inspect', '-f', '{{.State.Status}}', id), 'running')
  await ok(d, 'rm', '-f', id)
})

test('a runtime that fails: the start fails with its message, the container stays created, and nothing of the attempt is left', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const broken = join(d.dir, 'broken-runtime')
  writeFileSync(broken, '#!/bin/sh\nfor a in "$@"; do [ "$a" = create ] && { echo "the runtime refuses: simulated failure" >&2; exit 1; }; done\nexec crun "$@"\n')
  chmodSync(broken, 0o755)
  writeFileSync(join(d.dir, 'daemon.json'), JSON.stringify({ runtimes: { broken: { path: broken } } }))
  await d.stop()
  await d.start()
  await d.importBusybox()
  const r = await d.docker('run', '-d', '--name', 'victim', '--runtime', 'broken', BUSYBOX, ...LOOP)
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /the runtime refuses: simulated failure/)
  assert.equal(await ok(d, 'inspect', '-f', '{{.State.Status}}', 'victim'), 'created')
  const id = await ok(d, 'inspect', '-f', '{{.Id}}', 'victim')
  assert.ok(!existsSync(`/run/netns/cais-${id.slice(0, 12)}`), 'no network namespace left')
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(id), 'no mount left')
  assert.equal(await ok(d, 'run', '--rm', '--network', 'none', BUSYBOX, 'echo', 'others run'), 'others run')
  await ok(d, 'rm', 'victim')
})

test("the container's cgroup taken away under it: stats, stop and rm still work", async (t) => {
  const d = await startDaemon(t)
  const id = await ok(d, 'run', '-d', '--network', 'none', BUSYBOX, ...LOOP)
  // Move its processes to each hierarchy's root, then remove its cgroup directories.
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', h, 'cais', id)
    if (!existsSync(join(dir, 'cgroup.procs'))) continue
    for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try {
        writeFileSync(join('/sys/fs/cgroup', h, 'cgroup.procs'), p)
      } catch {
        // a process that just ended
      }
    }
    execFileSync('rmdir', [dir])
  }
  const stats = await d.docker('stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', id)
  assert.equal(stats.code, 0, stats.stderr)
  await ok(d, 'stop', '-t', '1', id)
  assert.equal(await ok(d, 'inspect', '-f', '{{.State.Status}}', id), 'exited')
  await ok(d, 'rm', id)
})

test("the container's root unmounted from the host: cp, diff and commit still see its files, stop and rm work", async (t) => {
  const d = await startDaemon(t)
  const id = await ok(d, 'run', '-d', '--network', 'none', BUSYBOX, 'sh', '-c', 'echo kept > /marker; trap "exit 0" TERM; while :; do sleep 0.1; done')
  await waitFor('the marker', async () => (await d.docker('exec', id, 'cat', '/marker')).stdout === 'kept\n')
  const merged = join(d.root, 'containers', id, 'rootfs', 'merged')
  execFileSync('umount', ['-l', merged])
  const copied = await d.docker('cp', `${id}:/marker`, '-')
  assert.equal(copied.code, 0, copied.stderr)
  assert.ok(copied.stdout.includes('kept'), 'cp reads the file')
  assert.match(await ok(d, 'diff', id), /^A \/marker$/m)
  await ok(d, 'commit', id, 'faults/unmounted:1')
  assert.equal(await ok(d, 'run', '--rm', '--network', 'none', 'faults/unmounted:1', 'cat', '/marker'), 'kept')
  await ok(d, 'stop', '-t', '1', id)
  await ok(d, 'rm', id)
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(id), 'no mount left')
})

test("the container's network namespace deleted from the host: exec still works, network connect names it again and joins, stop and rm clean up", async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'network', 'create', 'faultnet')
  const id = await ok(d, 'run', '-d', BUSYBOX, ...LOOP)
  execFileSync('ip', ['netns', 'delete', `cais-${id.slice(0, 12)}`])
  assert.equal(await ok(d, 'exec', id, 'echo', 'still here'), 'still here')
  await ok(d, 'network', 'connect', 'faultnet', id)
  assert.match(await ok(d, 'exec', id, 'ip', '-o', 'addr', 'show', 'eth1'), /inet 10\./, 'joined the network')
  await ok(d, 'stop', '-t', '1', id)
  await ok(d, 'start', id)
  assert.equal(await ok(d, 'exec', id, 'echo', 'restarted with a network'), 'restarted with a network')
  await ok(d, 'rm', '-f', id)
  const bridge = (JSON.parse(await ok(d, 'network', 'inspect', 'bridge', '--format', '{{json .Options}}')) as Record<string, string>)['com.docker.network.bridge.name']!
  await waitFor('no veth left on the bridge', () => execFileSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' }).trim() === '')
})
