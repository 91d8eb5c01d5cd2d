// Our own CLI against Debian's dockerd 20.10 (API 1.41): the client negotiates the version as the docker CLI does.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { caisBin, runCommand } from '../helpers/daemon.ts'
import { EngineClient } from '../../src/client/engine-client.ts'
import { dockerdBin, startDockerd } from '../helpers/dockerd.ts'

const skip = dockerdBin ? false : "Debian's dockerd is not installed (apt-get install docker.io)"

test('cais drives dockerd 20.10: version negotiated to 1.41; images, run, logs, exec, ps, rm', { skip }, async (t) => {
  const d = await startDockerd(t)
  const ok = async (...args: string[]): Promise<string> => {
    const r = await d.cli(...args)
    assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
    return r.stdout
  }
  assert.match(await ok('version'), /API version:\s+1\.41 \(downgraded from 1\.50\)/)
  assert.match(await ok('images'), /^busybox\s+latest\s+[0-9a-f]{12}/m)
  const run = await d.cli('run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3')
  assert.deepEqual([run.code, run.stdout, run.stderr], [3, 'out\n', 'err\n'])
  assert.equal(await ok('run', '--rm', '-t', '--network', 'none', 'busybox', 'echo', 'tty'), 'tty\r\n')
  await ok('run', '-d', '--name', 'kept', '--network', 'none', 'busybox', 'sh', '-c', 'echo logged; exec sleep 100')
  for (let i = 0; i < 50 && !(await ok('logs', 'kept')).includes('logged'); i++) await new Promise((r) => setTimeout(r, 100))
  assert.equal(await ok('logs', 'kept'), 'logged\n')
  assert.equal(await ok('exec', 'kept', 'echo', 'exec-ok'), 'exec-ok\n')
  assert.match(await ok('ps'), /kept/)
  assert.equal((await ok('inspect', '-f', '{{.State.Running}}', 'kept')).trim(), 'true')
  await ok('rm', '-f', 'kept')
  assert.equal(await ok('ps', '-aq'), '')
  // DOCKER_API_VERSION forces a version, as for the docker CLI; one newer than the daemon's is its error.
  const forced = await runCommand(caisBin, ['images', '-q'], { env: { CAIS_HOST: d.host, DOCKER_API_VERSION: '1.50' } })
  assert.equal(forced.code, 1)
  assert.match(forced.stderr, /client version 1\.50 is too new\. Maximum supported API version is 1\.41/)
  const older = await runCommand(caisBin, ['images', '-q'], { env: { CAIS_HOST: d.host, DOCKER_API_VERSION: '1.30' } })
  assert.equal(older.code, 0, older.stderr)
  assert.match(older.stdout, /^[0-9a-f]{12}$/m)
  // Requests sent at once before any answer each learn the daemon's version from its refusal.
  const client = new EngineClient({ host: d.host })
  t.after(() => client.close())
  const lists = await Promise.all(Array.from({ length: 8 }, () => client.images.list()))
  assert.ok(lists.every((l) => l.length === 1))
})
