// A client that pins an older API version gets that version's behaviour: each gate, on both sides of it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BUSYBOX, startDaemon } from '../helpers/daemon.ts'
import { raw } from '../helpers/raw.ts'

const json = { 'Content-Type': 'application/json' }

test('create: Healthcheck.StartInterval from 1.44, HostConfig.ConsoleSize from 1.42', async (t) => {
  const d = await startDaemon(t)
  const body = JSON.stringify({ Image: BUSYBOX, Cmd: ['true'], Healthcheck: { Test: ['CMD', 'true'], StartInterval: 500 } })
  const old = await raw(d.socket, 'POST', '/v1.43/containers/create', body, json)
  assert.equal(old.status, 201, old.body)
  const { Id } = JSON.parse(old.body) as { Id: string }
  assert.equal((await d.client.containers.inspect(Id)).Config.Healthcheck?.StartInterval, undefined)
  const now = await raw(d.socket, 'POST', '/v1.44/containers/create', body, json)
  assert.equal(now.status, 400)
  assert.match(now.body, /StartInterval in Healthcheck cannot be less than 1ms/)

  const sized = JSON.stringify({ Image: BUSYBOX, Cmd: ['true'], HostConfig: { ConsoleSize: [30, 100] } })
  const consoleSize = async (version: string): Promise<unknown> => {
    const r = await raw(d.socket, 'POST', `/v${version}/containers/create`, sized, json)
    assert.equal(r.status, 201, r.body)
    return (await d.client.containers.inspect((JSON.parse(r.body) as { Id: string }).Id)).HostConfig['ConsoleSize']
  }
  assert.deepEqual(await consoleSize('1.42'), [30, 100])
  assert.notDeepEqual(await consoleSize('1.41'), [30, 100])
})

test('stop and restart: the signal parameter from 1.42', async (t) => {
  const d = await startDaemon(t)
  const exitOf = async (version: string): Promise<number> => {
    const { Id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', 'trap "exit 7" USR1; while :; do sleep 0.1; done'] })
    await d.client.containers.start(Id)
    const r = await raw(d.socket, 'POST', `/v${version}/containers/${Id}/stop?signal=SIGUSR1&t=1`)
    assert.equal(r.status, 204, r.body)
    return (await d.client.containers.inspect(Id)).State.ExitCode
  }
  assert.equal(await exitOf('1.42'), 7, 'the signal asked for')
  assert.equal(await exitOf('1.41'), 137, 'the stop signal (ignored by a shell as PID 1), then SIGKILL')
})

test('wait: conditions and early headers from 1.30', async (t) => {
  const d = await startDaemon(t)
  const { Id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'] })
  const old = await raw(d.socket, 'POST', `/v1.29/containers/${Id}/wait?condition=bogus`)
  assert.equal(old.status, 200, 'a condition is not looked at before 1.30: not-running, which a created container is')
  assert.equal((JSON.parse(old.body) as { StatusCode: number }).StatusCode, 0)
  const now = await raw(d.socket, 'POST', `/v1.30/containers/${Id}/wait?condition=bogus`)
  assert.equal(now.status, 400)
  assert.match(now.body, /invalid condition/)
})

test('images: VirtualSize before 1.44, Container and ContainerConfig before 1.45; system df types from 1.42', async (t) => {
  const d = await startDaemon(t)
  const { Id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'], Env: ['FROM_COMMIT=1'] })
  const commit = await raw(d.socket, 'POST', `/commit?container=${Id}&repo=made&tag=1`, '{}', json)
  assert.equal(commit.status, 201, commit.body)
  const inspect = async (version: string): Promise<Record<string, unknown>> => JSON.parse((await raw(d.socket, 'GET', `/v${version}/images/made:1/json`)).body) as Record<string, unknown>
  const v43 = await inspect('1.43')
  assert.equal(v43['VirtualSize'], v43['Size'])
  assert.equal(v43['Container'], Id)
  assert.ok(((v43['ContainerConfig'] as { Env: string[] }).Env ?? []).includes('FROM_COMMIT=1'))
  const v44 = await inspect('1.44')
  assert.equal(v44['VirtualSize'], undefined)
  assert.equal(v44['Container'], Id)
  const v45 = await inspect('1.45')
  assert.equal(v45['Container'], undefined)
  assert.equal(v45['ContainerConfig'], undefined)
  const busybox = JSON.parse((await raw(d.socket, 'GET', `/v1.44/images/${BUSYBOX}/json`)).body) as { Container: string; ContainerConfig: { Env: unknown; Image: string } }
  assert.deepEqual([busybox.Container, busybox.ContainerConfig.Env, busybox.ContainerConfig.Image], ['', null, ''], "an image no container made: Docker's zero config")

  const list = async (version: string): Promise<Array<Record<string, unknown>>> => JSON.parse((await raw(d.socket, 'GET', `/v${version}/images/json`)).body) as Array<Record<string, unknown>>
  assert.ok((await list('1.43')).every((i) => i['VirtualSize'] === i['Size']))
  assert.ok((await list('1.44')).every((i) => !('VirtualSize' in i)))

  const df = async (version: string): Promise<{ Images: unknown[]; Containers: unknown[] }> =>
    JSON.parse((await raw(d.socket, 'GET', `/v${version}/system/df?type=container`)).body) as { Images: unknown[]; Containers: unknown[] }
  assert.equal((await df('1.42')).Images.length, 0, 'only the type asked for')
  assert.ok((await df('1.41')).Images.length > 0, 'type is not looked at before 1.42')
})

test('output streams: multiplexed-stream named from 1.42, raw-stream before', async (t) => {
  const d = await startDaemon(t)
  const { Id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['echo', 'x'] })
  await d.client.containers.start(Id)
  await (await d.client.containers.wait(Id)).result
  const type = async (version: string): Promise<unknown> => (await raw(d.socket, 'GET', `/v${version}/containers/${Id}/logs?stdout=1`)).headers['content-type']
  assert.equal(await type('1.42'), 'application/vnd.docker.multiplexed-stream')
  assert.equal(await type('1.41'), 'application/vnd.docker.raw-stream')
})

test('API versions below 1.24 are refused with the oldest one named', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const r = await raw(d.socket, 'GET', '/v1.23/version')
  assert.equal(r.status, 400)
  assert.match(r.body, /client version 1\.23 is too old\. Minimum supported API version is 1\.24/)
})
