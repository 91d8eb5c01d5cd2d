import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RegistryHosts, normalizeMirror } from './hosts.ts'
import { Registries } from './registries.ts'

test('pulls from Docker Hub try its mirrors in order, then the hub; other registries have none', async () => {
  const registries = new Registries(new RegistryHosts({ insecureRegistries: [], certsDir: '/nonexistent', registryMirrors: ['https://m1.example/', 'http://10.0.0.9:5000/'] }))
  const hub = await registries.pullClients('docker.io', { username: 'u', password: 'p' })
  assert.deepEqual(
    hub.map((c) => [c.host.address, c.host.scheme]),
    [
      ['m1.example', 'https'],
      ['10.0.0.9:5000', 'http'],
      ['registry-1.docker.io', undefined],
    ],
  )
  assert.deepEqual((await registries.pullClients('quay.io', undefined)).map((c) => c.host.address), ['quay.io'])
})

test('a mirror is an http or https URL of a host, shown with a trailing slash', () => {
  assert.equal(normalizeMirror('https://mirror.gcr.io'), 'https://mirror.gcr.io/')
  assert.equal(normalizeMirror('http://127.0.0.1:5000/'), 'http://127.0.0.1:5000/')
  assert.throws(() => normalizeMirror('mirror.gcr.io'), /invalid mirror: "mirror.gcr.io" is not a valid URI|unsupported scheme/)
  assert.throws(() => normalizeMirror('https://mirror.example/v2/'), /path, query, or fragment/)
  assert.throws(() => normalizeMirror('https://u:p@mirror.example'), /username\/password not allowed/)
})
