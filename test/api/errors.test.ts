// Bad input gets Docker's status and message, and nothing is lost: the daemon stays up, the store consistent.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, startDaemon, uniqueName } from '../helpers/daemon.ts'
import { raw } from '../helpers/raw.ts'

test('API answers bad requests with Docker statuses and messages', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '60'] }, { name })
  await d.client.containers.start(name)

  const cases: Array<[string, string, number, RegExp, (string | Buffer)?]> = [
    ['POST', '/containers/create', 400, /invalid JSON/, '{"Image": '],
    ['POST', '/containers/create', 404, /^No such image: nope:latest$/, JSON.stringify({ Image: 'nope' })],
    ['POST', `/containers/create?name=${name}`, 409, /Conflict\. The container name "\/[^"]+" is already in use by container/, JSON.stringify({ Image: BUSYBOX })],
    ['POST', '/containers/create?name=bad%20name', 400, /Invalid container name/, JSON.stringify({ Image: BUSYBOX })],
    ['POST', '/containers/create', 400, /^invalid MAC address: nope$/, JSON.stringify({ Image: BUSYBOX, NetworkingConfig: { EndpointsConfig: { bridge: { MacAddress: 'nope' } } } })],
    ['POST', '/networks/bridge/connect', 400, /^invalid MAC address: 02:42$/, JSON.stringify({ Container: name, EndpointConfig: { MacAddress: '02:42' } })],
    ['GET', '/containers/nope/json', 404, /^No such container: nope$/],
    ['POST', '/containers/nope/start', 404, /^No such container: nope$/],
    ['POST', '/containers/nope/wait?condition=bogus', 400, /invalid condition/],
    ['DELETE', `/containers/${name}`, 409, /container is running: stop the container before removing or force remove/],
    ['DELETE', '/images/busybox', 409, /container [a-f0-9]{12} is using its referenced image/],
    ['GET', '/images/nope/json', 404, /^No such image: nope$/],
    ['GET', '/containers/json?filters=notjson', 400, /invalid filter/],
    ['GET', '/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D', 400, /invalid filter 'bogus'/],
    ['GET', '/v1.99/version', 400, /client version 1\.99 is too new\. Maximum supported API version is 1\.50/],
    ['GET', '/v1.12/version', 400, /client version 1\.12 is too old\. Minimum supported API version is 1\.24/],
    ['GET', '/no/such/path', 404, /page not found/],
    ['POST', `/containers/${name}/kill?signal=SIGNOPE`, 400, /Invalid signal: SIGNOPE/],
    ['GET', `/containers/${name}/logs`, 400, /you must choose at least one stream/],
    // Found by the fuzz slice: a volume with `Labels: false` was kept, and a label filter over it was a 500.
    ['POST', '/volumes/create', 400, /^json: cannot unmarshal bool into Go struct field CreateOptions\.Labels of type map\[string\]string$/, JSON.stringify({ Name: 'v', Labels: false })],
    ['POST', '/networks/create', 400, /^json: cannot unmarshal array into Go struct field CreateRequest\.Labels of type map\[string\]string$/, JSON.stringify({ Name: 'n', Labels: ['x'] })],
    ['POST', '/volumes/create', 400, /^json: cannot unmarshal string into Go value of type volume\.CreateOptions$/, JSON.stringify('v')],
  ]
  for (const [method, path, status, message, body] of cases) {
    const r = await raw(d.socket, method, path, body, body ? { 'Content-Type': 'application/json' } : {})
    assert.equal(r.status, status, `${method} ${path}: ${r.body}`)
    assert.equal(r.headers['content-type'], 'application/json', `${method} ${path}`)
    assert.match((JSON.parse(r.body) as { message: string }).message, message, `${method} ${path}`)
  }
  // Nothing above changed anything: one container, still running; one image.
  const list = await d.client.containers.list({ all: true })
  assert.equal(list.length, 1)
  assert.equal(list[0]!.State, 'running')
  assert.equal((await d.client.images.list()).length, 1)
  assert.deepEqual((await d.client.volumes.list()).Volumes ?? [], [])
  assert.equal((await raw(d.socket, 'GET', `/volumes?filters=${encodeURIComponent('{"label":{"x":true}}')}`)).status, 200)
})

test('a corrupt or truncated tar: load reports it in its stream, import with a 400; nothing is left in the store', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const blobsDir = join(d.root, 'content/blobs/sha256')
  const layersDir = join(d.root, 'layers')
  const garbage = Buffer.alloc(4096, 7)
  const { readFileSync } = await import('node:fs')
  const { busyboxTar } = await import('../helpers/daemon.ts')
  const truncated = readFileSync(busyboxTar()).subarray(0, 700_000)
  for (const [path, body] of [
    ['/images/load', garbage],
    ['/images/load', truncated],
    ['/images/create?fromSrc=-', garbage],
    ['/images/create?fromSrc=-', truncated],
  ] as const) {
    const r = await raw(d.socket, 'POST', path, body, { 'Content-Type': 'application/x-tar' })
    if (path === '/images/load') {
      // As Docker's: the answer starts at once, and clients raise their load error from the stream.
      assert.equal(r.status, 200, `${path}: ${r.body}`)
      const last = JSON.parse(r.body.trim().split('\n').at(-1)!) as { errorDetail?: { message: string }; error?: string }
      assert.ok(last.errorDetail && last.errorDetail.message.length > 0 && last.error === last.errorDetail.message, r.body)
    } else {
      assert.equal(r.status, 400, `${path}: ${r.body}`)
      assert.ok((JSON.parse(r.body) as { message: string }).message.length > 0)
    }
  }
  assert.deepEqual(await d.client.images.list(), [])
  assert.deepEqual(readdirSync(blobsDir), [], 'no blob left behind')
  assert.deepEqual(readdirSync(layersDir), [], 'no layer left behind')
  assert.deepEqual(readdirSync(join(d.root, 'content/ingest')), [], 'no staging left behind')
  // and the daemon still works
  await d.importBusybox()
  assert.equal((await d.client.images.list()).length, 1)
})

test('_ping answers GET and HEAD with the negotiation headers', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  for (const method of ['GET', 'HEAD']) {
    const r = await raw(d.socket, method, '/_ping')
    assert.equal(r.status, 200)
    assert.equal(r.headers['api-version'], '1.50')
    assert.equal(r.headers['ostype'], 'linux')
    assert.equal(r.headers['docker-experimental'], 'false')
    assert.equal(r.body, method === 'GET' ? 'OK' : '')
  }
  const v = await raw(d.socket, 'GET', '/v1.41/version')
  assert.equal(v.status, 200, 'an older version prefix is accepted')
})

test('start and stop answer 304 when there is nothing to do', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '60'] }, { name })
  assert.equal((await raw(d.socket, 'POST', `/containers/${name}/stop`)).status, 304)
  assert.equal((await raw(d.socket, 'POST', `/containers/${name}/start`)).status, 204)
  assert.equal((await raw(d.socket, 'POST', `/containers/${name}/start`)).status, 304)
  assert.equal((await raw(d.socket, 'POST', `/containers/${name}/stop?t=0`)).status, 204)
  const kill = await raw(d.socket, 'POST', `/containers/${name}/kill`)
  assert.equal(kill.status, 409)
  assert.match(kill.body, /is not running/)
})
