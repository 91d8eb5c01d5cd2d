// Restart policies: no, on-failure[:N], always, unless-stopped, with backoff, across daemon restarts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BUSYBOX, startDaemon, uniqueName, waitFor } from '../helpers/daemon.ts'
import { nextRestartDelay, shouldRestart } from '../../src/containers/restart-policy.ts'

test('policy decisions and backoff follow Docker', () => {
  assert.equal(shouldRestart({ Name: 'no', MaximumRetryCount: 0 }, 1, 0, false), false)
  assert.equal(shouldRestart({ Name: 'on-failure', MaximumRetryCount: 0 }, 0, 0, false), false)
  assert.equal(shouldRestart({ Name: 'on-failure', MaximumRetryCount: 2 }, 1, 1, false), true)
  assert.equal(shouldRestart({ Name: 'on-failure', MaximumRetryCount: 2 }, 1, 2, false), false)
  assert.equal(shouldRestart({ Name: 'always', MaximumRetryCount: 0 }, 0, 50, false), true)
  assert.equal(shouldRestart({ Name: 'unless-stopped', MaximumRetryCount: 0 }, 0, 0, true), false)
  assert.equal(nextRestartDelay(undefined, 0), 100)
  assert.equal(nextRestartDelay(100, 50), 200)
  assert.equal(nextRestartDelay(40_000, 50), 60_000)
  assert.equal(nextRestartDelay(800, 20_000), 100, 'a run of 10 s or more resets the backoff')
})

test('on-failure:2 restarts a failing container twice, then leaves it exited', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  const r = await d.cli('run', '-d', '--name', name, '--restart', 'on-failure:2', BUSYBOX, 'sh', '-c', 'echo run; exit 3')
  assert.equal(r.code, 0, r.stderr)
  const info = await waitFor('two restarts', async () => {
    const i = await d.client.containers.inspect(name)
    return i.RestartCount === 2 && i.State.Status === 'exited' ? i : undefined
  })
  assert.equal(info.State.ExitCode, 3)
  const logs = await d.cli('logs', name)
  assert.equal(logs.stdout, 'run\nrun\nrun\n', 'three runs, one log')
})

test('always restarts after a clean exit; stop ends it', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.cli('run', '-d', '--name', name, '--restart', 'always', BUSYBOX, 'sh', '-c', 'sleep 0.2')
  await waitFor('a restart', async () => ((await d.client.containers.inspect(name)).RestartCount >= 1 ? true : undefined))
  assert.equal((await d.cli('stop', '-t', '1', name)).code, 0)
  await new Promise((r) => setTimeout(r, 700))
  const info = await d.client.containers.inspect(name)
  assert.equal(info.State.Running, false, 'a stopped container is not restarted')
  assert.equal(info.State.Restarting, false)
})

test('after a daemon restart: always starts even when stopped, unless-stopped stays stopped, on-failure restarts an exit that happened while down', async (t) => {
  const d = await startDaemon(t)
  const always = uniqueName(t) + '-always'
  const unless = uniqueName(t) + '-unless'
  const failing = uniqueName(t) + '-fail'
  await d.cli('run', '-d', '--name', always, '--restart', 'always', BUSYBOX, 'sleep', '300')
  await d.cli('run', '-d', '--name', unless, '--restart', 'unless-stopped', BUSYBOX, 'sleep', '300')
  await d.cli('stop', '-t', '0', always, unless)
  await d.cli('run', '-d', '--name', failing, '--restart', 'on-failure:1', BUSYBOX, 'sh', '-c', 'test -e /tmp/ran && exec sleep 300; touch /tmp/ran; sleep 1; exit 9')
  await d.kill9()
  await new Promise((r) => setTimeout(r, 1500))
  await d.start()
  const state = async (n: string): Promise<string> => (await d.client.containers.inspect(n)).State.Status
  await waitFor('always running', async () => ((await state(always)) === 'running' ? true : undefined))
  assert.equal(await state(unless), 'exited')
  await waitFor('on-failure restarted', async () => {
    const i = await d.client.containers.inspect(failing)
    return i.State.Status === 'running' && i.RestartCount === 1 ? true : undefined
  })
})
