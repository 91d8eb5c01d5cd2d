// The real docker CLI (v28) against caisd: the foundation's acceptance list.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, dockerBin, runCommand, startDaemon, uniqueName, waitFor } from '../helpers/daemon.ts'

const skip = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

test('docker version and info talk to caisd', { skip }, async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const v = await d.docker('version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}')
  assert.equal(v.code, 0, v.stderr)
  assert.equal(v.stdout.trim(), '1.50 linux')
  const info = await d.docker('info', '--format', '{{.Driver}} {{.OSType}} {{.Swarm.LocalNodeState}}')
  assert.equal(info.code, 0, info.stderr)
  assert.equal(info.stdout.trim(), 'overlay2 linux inactive')
})

test('docker run prints the output and returns the exit status', { skip }, async (t) => {
  const d = await startDaemon(t)
  const hi = await d.docker('run', '--rm', BUSYBOX, 'echo', 'hi')
  assert.equal(hi.code, 0, hi.stderr)
  assert.equal(hi.stdout, 'hi\n')
  const three = await d.docker('run', '--rm', BUSYBOX, 'sh', '-c', 'exit 3')
  assert.equal(three.code, 3)
  const both = await d.docker('run', '--rm', BUSYBOX, 'sh', '-c', 'echo out; echo err >&2')
  assert.equal(both.stdout, 'out\n')
  assert.equal(both.stderr, 'err\n')
  assert.deepEqual(await d.client.containers.list({ all: true }), [], '--rm removed the containers')
})

test('docker run of a missing command exits 127 with the daemon message', { skip }, async (t) => {
  const d = await startDaemon(t)
  const r = await d.docker('run', '--rm', BUSYBOX, 'no-such-command')
  assert.equal(r.code, 127)
  assert.match(r.stderr, /executable file not found in \$PATH/)
})

test('detached container: ps, logs, stop, rm', { skip }, async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  const run = await d.docker('run', '-d', '--name', name, BUSYBOX, 'sh', '-c', 'echo started; exec sleep 300')
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout.trim(), /^[a-f0-9]{64}$/)
  const ps = await d.docker('ps', '--format', '{{.Names}} {{.Status}}')
  assert.match(ps.stdout, new RegExp(`^${name} Up `, 'm'))
  await waitFor('log line', async () => ((await d.docker('logs', name)).stdout === 'started\n' ? true : undefined))
  const stop = await d.docker('stop', '-t', '1', name)
  assert.equal(stop.code, 0, stop.stderr)
  const state = await d.client.containers.inspect(name)
  assert.equal(state.State.Status, 'exited')
  assert.equal(state.State.ExitCode, 137, 'sleep as PID 1 ignores SIGTERM, so stop escalated to SIGKILL')
  const rm = await d.docker('rm', name)
  assert.equal(rm.code, 0, rm.stderr)
  await assert.rejects(d.client.containers.inspect(name), /No such container/)
})

test('docker images, save | load round trip, import', { skip }, async (t) => {
  const d = await startDaemon(t)
  const images = await d.docker('images', '--format', '{{.Repository}}:{{.Tag}}')
  assert.equal(images.stdout.trim(), BUSYBOX)
  const before = await d.client.images.inspect(BUSYBOX)
  const save = await d.docker('save', '-o', `${d.dir}/saved.tar`, BUSYBOX)
  assert.equal(save.code, 0, save.stderr)
  const rmi = await d.docker('rmi', BUSYBOX)
  assert.equal(rmi.code, 0, rmi.stderr)
  assert.match(rmi.stdout, /Untagged: busybox:latest/)
  assert.equal((await d.client.images.list()).length, 0)
  const load = await d.docker('load', '-i', `${d.dir}/saved.tar`)
  assert.equal(load.code, 0, load.stderr)
  assert.match(load.stdout, /Loaded image: busybox:latest/)
  const after = await d.client.images.inspect(BUSYBOX)
  assert.equal(after.Id, before.Id, 'the image ID (config digest) survives the round trip')
  assert.deepEqual(after.RootFS.Layers, before.RootFS.Layers)
  const imp = await d.docker('import', '--change', 'CMD ["echo", "imported"]', `${d.dir}/saved.tar`, 'weird:1')
  // an image archive is a tar too: importing it gives an image whose rootfs is that archive's files
  assert.equal(imp.code, 0, imp.stderr)
  assert.match(imp.stdout.trim(), /^sha256:[a-f0-9]{64}$/)
  const inspect = await d.client.images.inspect('weird:1')
  assert.deepEqual(inspect.Config['Cmd'], ['echo', 'imported'])
})

test('a detached container survives kill -9 of caisd; stop and logs work after restart', { skip }, async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  const run = await d.docker('run', '-d', '--name', name, BUSYBOX, 'sh', '-c', 'for i in 1 2 3; do echo line $i; done; trap "exit 0" TERM; while true; do sleep 0.1; done')
  assert.equal(run.code, 0, run.stderr)
  await waitFor('three lines', async () => ((await d.docker('logs', name)).stdout.includes('line 3') ? true : undefined))
  const pid = (await d.client.containers.inspect(name)).State.Pid
  await d.kill9()
  assert.doesNotThrow(() => process.kill(pid, 0), 'the container process is still alive while caisd is down')
  await d.start()
  const ps = await d.docker('ps', '--format', '{{.Names}}')
  assert.match(ps.stdout, new RegExp(`^${name}$`, 'm'))
  const stop = await d.docker('stop', name)
  assert.equal(stop.code, 0, stop.stderr)
  assert.equal((await d.client.containers.inspect(name)).State.ExitCode, 0, 'the TERM trap ran')
  const logs = await d.docker('logs', name)
  assert.equal(logs.stdout, 'line 1\nline 2\nline 3\n')
})

test('a last line without a newline reaches run, logs, logs -f and start -a', { skip }, async (t) => {
  const d = await startDaemon(t)
  const run = await d.docker('run', '--rm', BUSYBOX, 'sh', '-c', 'echo one; printf x; printf y >&2')
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.stdout, 'one\nx')
  assert.equal(run.stderr, 'y')
  const name = uniqueName(t)
  assert.equal((await d.docker('run', '-d', '--name', name, BUSYBOX, 'printf', 'x')).code, 0)
  await waitFor('the exit', async () => ((await d.client.containers.inspect(name)).State.Running ? undefined : true))
  assert.equal((await d.docker('logs', name)).stdout, 'x')
  assert.equal((await d.docker('logs', '-f', name)).stdout, 'x')
  assert.equal((await d.docker('logs', '--tail', '1', name)).stdout, 'x')
  assert.equal((await d.docker('start', '-a', name)).stdout, 'x')
  assert.equal((await d.docker('logs', name)).stdout, 'xx')
})

test("cais system df prints what docker system df prints, -v too: shared and unique sizes, containers' sizes, volumes, the build cache", { skip }, async (t) => {
  const d = await startDaemon(t)
  const context = join(d.dir, 'df-context')
  mkdirSync(context)
  writeFileSync(join(context, 'Dockerfile'), `FROM ${BUSYBOX}\nRUN head -c 50000 /dev/zero > /b\n`)
  const build = await runCommand(dockerBin, ['-H', `unix://${d.socket}`, 'build', '-q', '-t', 'df/built:1', context], { env: { ...process.env, DOCKER_BUILDKIT: '0' } })
  assert.equal(build.code, 0, build.stderr)
  assert.equal((await d.docker('run', '-d', '--name', 'up', '-v', 'df-data:/data', BUSYBOX, 'sleep', '300')).code, 0)
  assert.equal((await d.docker('run', '--name', 'done', 'df/built:1', 'sh', '-c', 'head -c 7000 /dev/zero > /c')).code, 0)
  // The ages printed depend on the second each CLI runs in; everything else must match, column for column.
  const normalise = (text: string): string => text.replace(/(Less than a second|\d+ seconds?|About a minute) ago/g, 'AGO').replace(/ {2,}/g, '  ')
  for (const args of [['system', 'df'], ['system', 'df', '-v']]) {
    const ours = await d.cli(...args)
    const theirs = await d.docker(...args)
    assert.equal(ours.code, 0, ours.stderr)
    assert.equal(theirs.code, 0, theirs.stderr)
    assert.equal(normalise(ours.stdout), normalise(theirs.stdout), args.join(' '))
  }
  const summary = await d.cli('system', 'df')
  assert.match(summary.stdout, /^Containers\s+2\s+1\s+\S+\s+\S+ \(\d+%\)$/m)
  assert.match(summary.stdout, /^Build Cache\s+[1-9]\d*\s+0\s+[1-9]/m, 'the build left cache entries')
  assert.match((await d.cli('system', 'df', '-v')).stdout, /^df\/built\s+1\s+[0-9a-f]{12}\s+.+\s+2\.\d+MB\s+1\.9\d+MB\s+50kB\s+1$/m, 'the built image shares the base and adds its own layer')
})
