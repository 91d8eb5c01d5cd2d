// caisd itself: one daemon per root, graceful SIGTERM, state that survives restarts, reconcile.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { test } from 'node:test'
import { BUSYBOX, caisdBin, runCommand, startDaemon, uniqueName, waitFor } from '../helpers/daemon.ts'

test('a second caisd on the same root refuses to start with a clear message', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const r = await runCommand(caisdBin, ['--root', d.root, '--exec-root', `${d.execRoot}-2`, '-H', `unix://${d.dir}/second.sock`], { timeoutMs: 15_000 })
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /another caisd \(pid \d+\) is using this --root/)
  assert.ok(existsSync(d.socket), 'the first daemon is untouched')
})

test('SIGTERM: caisd exits 0, leaves containers running, and finds them again', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '300'] }, { name })
  await d.client.containers.start(name)
  const pid = (await d.client.containers.inspect(name)).State.Pid
  await d.stop()
  assert.ok(!existsSync(d.socket), 'the socket is removed on exit')
  assert.doesNotThrow(() => process.kill(pid, 0), 'the container outlives the daemon')
  await d.start()
  const info = await d.client.containers.inspect(name)
  assert.equal(info.State.Status, 'running')
  assert.equal(info.State.Pid, pid)
})

test('a container that exits while caisd is down shows as exited with its code', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', 'sleep 1; exit 42'] }, { name })
  await d.client.containers.start(name)
  await d.kill9()
  await new Promise((r) => setTimeout(r, 1500))
  await d.start()
  const info = await waitFor('exited state', async () => {
    const i = await d.client.containers.inspect(name)
    return i.State.Status === 'exited' ? i : undefined
  })
  assert.equal(info.State.ExitCode, 42)
  assert.notEqual(info.State.FinishedAt, '0001-01-01T00:00:00Z')
})

test('containers, images and names survive kill -9 of the daemon', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'], Labels: { keep: 'me' } }, { name })
  await d.client.images.tag(BUSYBOX, 'another', 'v1')
  await d.kill9()
  await d.start()
  const c = await d.client.containers.inspect(name)
  assert.equal(c.Config.Labels['keep'], 'me')
  assert.deepEqual((await d.client.images.inspect('another:v1')).RepoTags.sort(), ['another:v1', 'busybox:latest'])
  const dup = await d.client.containers.create({ Image: BUSYBOX }, { name }).then(() => 'created', (e: Error) => e.message)
  assert.match(dup, /already in use/)
})

test('caisd rejects unknown flags with a usage error', async () => {
  const r = await runCommand(caisdBin, ['--bogus'])
  assert.equal(r.code, 125)
  assert.match(r.stderr, /unknown flag: --bogus/)
})

test('SIGTERM waits for an in-flight request to finish', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', 'trap "sleep 1; exit 5" TERM; while true; do sleep 0.1; done'] }, { name })
  await d.client.containers.start(name)
  const stopping = d.client.containers.stop(name, { t: 10 })
  await new Promise((r) => setTimeout(r, 200))
  // SIGTERM the daemon while the stop request is still in progress
  const pidFile = `${d.root}/caisd.pid`
  const daemonPid = Number(readFileSync(pidFile, 'utf8'))
  process.kill(daemonPid, 'SIGTERM')
  assert.equal(await stopping, true, 'the stop request completed')
  await waitFor('daemon exit', () => {
    try {
      process.kill(daemonPid, 0)
      return undefined
    } catch {
      return true
    }
  })
})

test("the exit watcher leaves conmon's temp exit files alone", async (t) => {
  // conmon writes `<id>.XXXXXX` then renames it to `<id>`; deleting the temp file made conmon fail.
  const d = await startDaemon(t, { importBusybox: false })
  const temp = `${d.execRoot}/exits/${'a'.repeat(64)}.Xy12Ab`
  writeFileSync(temp, '0')
  await new Promise((r) => setTimeout(r, 1500))
  assert.ok(existsSync(temp))
})

test('a removed container leaves no directory, even when caisd dies before it is gone', async (t) => {
  const d = await startDaemon(t)
  const containers = `${d.root}/containers`
  const removed = (await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'] }, { name: uniqueName(t) })).Id
  await d.client.containers.remove(removed)
  await waitFor('the removed container directory to go', () => (readdirSync(containers).some((n) => n.startsWith(removed)) ? undefined : true))

  // A crash after the rename that removes a container, before its directory is gone.
  const name = `${uniqueName(t)}-2`
  const id = (await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'] }, { name })).Id
  await d.kill9()
  // As the store names what it is deleting: `<id>.<time>-<n>.removing`.
  renameSync(`${containers}/${id}`, `${containers}/${id}.${Date.now()}-0.removing`)
  await d.start()
  assert.deepEqual(readdirSync(containers).filter((n) => n.startsWith(id)), [])
  await assert.rejects(d.client.containers.inspect(name), /No such container/)
})

test("crun state a removal left (caisd died after answering, before releasing it) goes at the next start", async (t) => {
  const d = await startDaemon(t)
  const containers = `${d.root}/containers`
  const id = (await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '300'] }, { name: uniqueName(t) })).Id
  await d.client.containers.start(id)
  const pid = (await d.client.containers.inspect(id)).State.Pid
  await d.kill9()
  // What an rm -f had done when it answered: the process killed, its exit reported, the record renamed away.
  process.kill(pid, 'SIGKILL')
  await waitFor("conmon's exit file", () => (existsSync(`${d.execRoot}/exits/${id}`) ? true : undefined))
  renameSync(`${containers}/${id}`, `${containers}/${id}.${Date.now()}-0.removing`)
  const cgroups = readdirSync('/sys/fs/cgroup').map((c) => `/sys/fs/cgroup/${c}/cais/${id}`).filter((dir) => existsSync(dir))
  assert.ok(cgroups.length > 0, 'the cgroups are there before the start (the check can see them)')
  await d.start()
  assert.deepEqual(cgroups.filter((dir) => existsSync(dir)), [])
  assert.equal(existsSync(`${d.execRoot}/crun/${id}`), false)
  assert.deepEqual(readdirSync(containers).filter((n) => n.startsWith(id)), [])
  assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(id))
  await waitFor('the exit file of a container with no record to go', () => (existsSync(`${d.execRoot}/exits/${id}`) ? undefined : true))
})

test('a running container whose record is lost does not stop the next start: it and its directory go', async (t) => {
  const d = await startDaemon(t)
  const containers = `${d.root}/containers`
  const id = (await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '300'] }, { name: uniqueName(t) })).Id
  await d.client.containers.start(id)
  const pid = (await d.client.containers.inspect(id)).State.Pid
  await d.kill9()
  rmSync(`${containers}/${id}/container.json`)
  await d.start()
  assert.equal(existsSync(`${containers}/${id}`), false)
  assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(`${id}/rootfs/merged`))
  // Its process and crun's state for it go too: nothing is left running that no record names.
  assert.equal(existsSync(`${d.execRoot}/crun/${id}`), false)
  await waitFor('the process to be reaped', () => (existsSync(`/proc/${pid}`) ? undefined : true))
  assert.equal(existsSync(`${d.execRoot}/containers/${id}`), false)
})

const jemalloc = readdirSync('/usr/lib').filter((d) => d.endsWith('-linux-gnu')).map((d) => `/usr/lib/${d}/libjemalloc.so.2`).find(existsSync)

test('caisd runs with jemalloc where it is installed, and what it starts (conmon, the container) does not inherit it; CAIS_MALLOC=glibc opts out', { skip: jemalloc ? false : 'libjemalloc2 is not installed (scripts/setup.sh installs it)' }, async (t) => {
  const mapsOf = (d: { root: string }): string => readFileSync(`/proc/${readFileSync(`${d.root}/caisd.pid`, 'utf8').trim()}/maps`, 'utf8')
  const d = await startDaemon(t, { logLevel: false })
  assert.match(mapsOf(d), /libjemalloc\.so\.2/)
  const id = (await d.cli('run', '-d', '--network', 'none', BUSYBOX, 'sleep', '60')).stdout.trim()
  const conmon = readFileSync(`${d.execRoot}/containers/${id}/conmon.pid`, 'utf8').trim()
  const pid = (await d.cli('inspect', '-f', '{{.State.Pid}}', id)).stdout.trim()
  for (const p of [conmon, pid]) assert.doesNotMatch(readFileSync(`/proc/${p}/environ`, 'utf8'), /LD_PRELOAD|CAIS_PRELOADED/, `process ${p}`)
  const plain = await startDaemon(t, { importBusybox: false, logLevel: false, env: { ...process.env, CAIS_MALLOC: 'glibc' } })
  assert.doesNotMatch(mapsOf(plain), /libjemalloc/)
})
