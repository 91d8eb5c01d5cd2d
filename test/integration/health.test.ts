import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { makeDockerArchive } from '../helpers/archive.ts'
import { BUSYBOX, type TestDaemon, busyboxTar, dockerBin, startDaemon, waitFor } from '../helpers/daemon.ts'

const skipDocker = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

const health = async (d: TestDaemon, name: string): Promise<{ Status: string; FailingStreak: number; Log: Array<{ ExitCode: number; Output: string }> } | undefined> =>
  (await d.client.containers.inspect(name)).State.Health

test('health check: starting, healthy, then unhealthy after the retries; events and ps show it', async (t) => {
  const d = await startDaemon(t)
  const events = await d.client.system.events({ filters: { event: ['health_status'] } })
  const seen: string[] = []
  events.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) seen.push((JSON.parse(line) as { Action: string }).Action)
  })
  t.after(() => events.destroy())

  await ok(d, 'run', '-d', '--name', 'probed', '--health-cmd', 'test -f /tmp/ok', '--health-interval', '200ms', '--health-retries', '2', '--health-start-period', '5s', '--health-start-interval', '200ms', BUSYBOX, 'sh', '-c', 'sleep 1; touch /tmp/ok; sleep 300')
  assert.equal((await health(d, 'probed'))?.Status, 'starting')
  assert.match(await ok(d, 'ps', '--format', '{{.Status}}'), /\(health: starting\)/)

  await waitFor('healthy', async () => (await health(d, 'probed'))?.Status === 'healthy' || undefined, 10_000)
  const good = (await health(d, 'probed'))!
  assert.equal(good.FailingStreak, 0)
  assert.equal(good.Log.at(-1)?.ExitCode, 0)
  assert.match(await ok(d, 'ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}'), /probed Up .* \(healthy\)/)

  await ok(d, 'exec', 'probed', 'rm', '/tmp/ok')
  await waitFor('unhealthy', async () => (await health(d, 'probed'))?.Status === 'unhealthy' || undefined, 10_000)
  const bad = (await health(d, 'probed'))!
  assert.ok(bad.FailingStreak >= 2)
  assert.equal(bad.Log.at(-1)?.ExitCode, 1)
  assert.ok(bad.Log.length <= 5, 'the last five probes are kept')
  assert.equal((await d.client.containers.inspect('probed')).ExecIDs?.length, 1, 'only the exec the test ran: probes are not listed')
  await waitFor('the events', async () => (seen.includes('health_status: healthy') && seen.includes('health_status: unhealthy')) || undefined)

  // Stopped: no more probes, the last state stays.
  await ok(d, 'stop', '-t', '0', 'probed')
  const frozen = (await health(d, 'probed'))!.Log.length
  await new Promise((r) => setTimeout(r, 600))
  assert.equal((await health(d, 'probed'))!.Log.length, frozen)
})

test('health check: timeout, start period, the image HEALTHCHECK and --no-healthcheck', async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'run', '-d', '--name', 'slow', '--health-cmd', 'sleep 5', '--health-timeout', '300ms', '--health-interval', '200ms', '--health-retries', '1', BUSYBOX, 'sleep', '300')
  await waitFor('unhealthy by timeout', async () => (await health(d, 'slow'))?.Status === 'unhealthy' || undefined, 10_000)
  const timedOut = (await health(d, 'slow'))!.Log.at(-1)!
  assert.equal(timedOut.ExitCode, -1)
  assert.equal(timedOut.Output, 'Health check exceeded timeout (300ms)')

  // Failures in the start period do not count.
  await ok(d, 'run', '-d', '--name', 'warming', '--health-cmd', 'false', '--health-start-period', '2s', '--health-start-interval', '100ms', '--health-interval', '200ms', '--health-retries', '1', BUSYBOX, 'sleep', '300')
  await waitFor('a probe in the start period', async () => ((await health(d, 'warming'))?.Log.length ?? 0) >= 3 || undefined, 10_000)
  assert.equal((await health(d, 'warming'))?.Status, 'starting')
  await waitFor('unhealthy after the start period', async () => (await health(d, 'warming'))?.Status === 'unhealthy' || undefined, 10_000)

  const { archive } = await makeDockerArchive([readFileSync(busyboxTar())], {
    tag: 'checked:1',
    healthcheck: { Test: ['CMD', 'true'], Interval: 200_000_000, Retries: 1 },
  })
  const loaded = await d.cliWithInput(archive, 'load')
  assert.equal(loaded.code, 0, loaded.stderr)
  await ok(d, 'run', '-d', '--name', 'from-image', 'checked:1', 'sleep', '300')
  await waitFor('healthy from the image HEALTHCHECK', async () => (await health(d, 'from-image'))?.Status === 'healthy' || undefined, 10_000)
  await ok(d, 'run', '-d', '--name', 'unchecked', '--no-healthcheck', 'checked:1', 'sleep', '300')
  await new Promise((r) => setTimeout(r, 500))
  assert.equal(await health(d, 'unchecked'), undefined, '--no-healthcheck turns the image HEALTHCHECK off')

  const conflict = await d.cli('run', '--no-healthcheck', '--health-cmd', 'true', BUSYBOX, 'true')
  assert.equal(conflict.code, 125)
  assert.match(conflict.stderr, /--no-healthcheck conflicts with --health-\* options/)
  const tooShort = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'], Healthcheck: { Test: ['CMD', 'true'], Interval: 10 } }).then(
    () => 'created',
    (err: Error) => err.message,
  )
  assert.match(tooShort, /Interval in Healthcheck cannot be less than 1ms/)
})

test('the docker CLI: --health-cmd and the health status in inspect', { skip: skipDocker }, async (t) => {
  const d = await startDaemon(t)
  const run = await d.docker('run', '-d', '--name', 'dh', '--health-cmd', 'true', '--health-interval', '200ms', BUSYBOX, 'sleep', '300')
  assert.equal(run.code, 0, run.stderr)
  await waitFor('healthy', async () => (await d.docker('inspect', '-f', '{{.State.Health.Status}}', 'dh')).stdout.trim() === 'healthy' || undefined, 10_000)
  const ps = await d.docker('ps', '--filter', 'health=healthy', '--format', '{{.Names}}')
  assert.equal(ps.stdout.trim(), 'dh')
})
