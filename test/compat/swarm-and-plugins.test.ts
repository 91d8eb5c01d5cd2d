// A daemon outside any swarm, with no plugins: the answers Docker's engine gives there, as the docker CLI shows them.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { dockerBin, startDaemon } from '../helpers/daemon.ts'
import { ApiError } from '../../src/client/http.ts'

const skip = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`
const notManager = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.'

test('swarm routes answer 503 "not a swarm manager" or "not part of a swarm", as a node outside a swarm', { skip }, async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const leave = await d.docker('swarm', 'leave', '--force')
  assert.equal(leave.code, 1)
  assert.equal(leave.stderr.trim(), 'Error response from daemon: This node is not part of a swarm')
  for (const args of [['node', 'ls'], ['service', 'ls'], ['secret', 'ls'], ['config', 'ls'], ['swarm', 'unlock-key']]) {
    const r = await d.docker(...args)
    assert.equal(r.code, 1, args.join(' '))
    assert.ok(r.stderr.trim().endsWith(`Error response from daemon: ${notManager}`), `${args.join(' ')}: ${r.stderr}`)
  }
  const statusOf = async (method: string, path: string): Promise<[number, string]> => {
    try {
      return [await d.client.http.empty(method, path), '']
    } catch (err) {
      assert.ok(err instanceof ApiError, String(err))
      return [err.status, err.message]
    }
  }
  assert.deepEqual(await statusOf('GET', '/swarm'), [503, notManager])
  assert.deepEqual(await statusOf('GET', '/tasks'), [503, notManager])
  assert.deepEqual(await statusOf('DELETE', '/services/x'), [503, notManager])
  assert.deepEqual(await statusOf('POST', '/swarm/unlock'), [503, 'This node is not part of a swarm'])
  assert.deepEqual(await statusOf('POST', '/swarm/init'), [501, 'swarm mode is not supported by cais'])
  const info = await d.docker('info', '--format', '{{.Swarm.LocalNodeState}}')
  assert.equal(info.stdout.trim(), 'inactive')
})

test('plugin routes: none installed, each named one not found', { skip }, async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const ls = await d.docker('plugin', 'ls', '--format', '{{.Name}}')
  assert.equal(ls.code, 0, ls.stderr)
  assert.equal(ls.stdout, '')
  const inspect = await d.docker('plugin', 'inspect', 'vieux/sshfs')
  assert.equal(inspect.code, 1)
  assert.match(inspect.stderr, /plugin "vieux\/sshfs" not found/)
  const rm = await d.docker('plugin', 'rm', 'vieux/sshfs')
  assert.equal(rm.code, 1)
  assert.match(rm.stderr, /plugin "vieux\/sshfs(:latest)?" not found/)
  const enable = await d.docker('plugin', 'enable', 'sshfs')
  assert.equal(enable.code, 1)
  assert.match(enable.stderr, /plugin "sshfs(:latest)?" not found/)
})
