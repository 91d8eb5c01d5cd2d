// Filters that scripts rely on to pick what they remove: each does what Docker's does, or is refused.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { BUSYBOX, dockerBin, startDaemon } from '../helpers/daemon.ts'
import { freePort } from '../helpers/registry.ts'

const skip = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

test('images REPO and --filter reference= list only the matching tags', { skip }, async (t) => {
  const d = await startDaemon(t)
  assert.equal((await d.docker('tag', BUSYBOX, 'other/thing:1')).code, 0)
  const byArg = await d.docker('images', '--format', '{{.Repository}}:{{.Tag}}', 'busybox')
  assert.equal(byArg.stdout, 'busybox:latest\n')
  const byFilter = await d.docker('images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=other/*')
  assert.equal(byFilter.stdout, 'other/thing:1\n')
  const both = await d.docker('images', '--format', '{{.Repository}}:{{.Tag}}')
  assert.deepEqual(both.stdout.trim().split('\n').sort(), ['busybox:latest', 'other/thing:1'])
})

test('ps --filter publish, expose, before, since; an unknown filter is refused, never ignored', { skip }, async (t) => {
  const d = await startDaemon(t)
  const port = await freePort()
  const run = async (...args: string[]): Promise<void> => {
    const r = await d.docker('run', '-d', ...args, BUSYBOX, 'sleep', '300')
    assert.equal(r.code, 0, r.stderr)
  }
  await run('--name', 'first')
  await run('--name', 'web', '-p', `127.0.0.1:${port}:80`)
  await run('--name', 'exposer', '--expose', '9000/udp')
  const ps = async (...filters: string[]): Promise<string[]> => {
    const r = await d.docker('ps', '--format', '{{.Names}}', ...filters.flatMap((f) => ['--filter', f]))
    assert.equal(r.code, 0, r.stderr)
    return r.stdout.split('\n').filter(Boolean).sort()
  }
  assert.deepEqual(await ps(`publish=${port}`), ['web'])
  assert.deepEqual(await ps(`publish=${port}/udp`), [])
  assert.deepEqual(await ps('publish=80'), [], 'publish is the host port')
  assert.deepEqual(await ps('expose=80'), ['web'])
  assert.deepEqual(await ps('expose=8990-9010/udp'), ['exposer'])
  assert.deepEqual(await ps('before=web'), ['first'])
  assert.deepEqual(await ps('since=web'), ['exposer'])
  const unknown = await d.docker('ps', '--filter', 'colour=red')
  assert.equal(unknown.code, 1)
  assert.match(unknown.stderr, /invalid filter 'colour'/)
  const bad = await d.docker('ps', '--filter', 'publish=http')
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /invalid filter 'publish=http'/)
  const missing = await d.docker('ps', '--filter', 'before=nope')
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /No such container: nope/)
})
