// Independent registry clients and the real docker CLI, against caisd and Debian's docker-registry.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, dockerBin, runCommand, startDaemon } from '../helpers/daemon.ts'
import { startRegistry } from '../helpers/registry.ts'

const noDocker = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`
const noSkopeo = existsSync('/usr/bin/skopeo') ? false : 'skopeo is not installed (scripts/setup.sh installs it)'

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

async function skopeo(...args: string[]): Promise<string> {
  const r = await runCommand('skopeo', args, { timeoutMs: 60_000 })
  assert.equal(r.code, 0, `skopeo ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

test('skopeo reads and copies an image cais pushed; cais pulls and runs an image skopeo pushed', { skip: noSkopeo }, async (t) => {
  const reg = await startRegistry(t)
  const d = await startDaemon(t)
  const name = `${reg.address}/by-cais/busybox:1`
  await ok(d, 'tag', BUSYBOX, name)
  const pushed = await ok(d, 'push', name)
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed)![1]!
  const local = await d.client.images.inspect(name)

  const inspect = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${name}`)) as { Digest: string; Layers: string[]; Architecture: string; Os: string }
  assert.equal(inspect.Digest, digest)
  assert.equal(inspect.Os, 'linux')
  assert.equal(inspect.Layers.length, local.RootFS.Layers.length)
  const config = JSON.parse(await skopeo('inspect', '--tls-verify=false', '--config', `docker://${name}`)) as { rootfs: { diff_ids: string[] } }
  assert.deepEqual(config.rootfs.diff_ids, local.RootFS.Layers, 'the config skopeo reads is the one cais keeps')
  const dir = mkdtempSync('/tmp/cais-test-oci-')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // skopeo verifies every blob digest while copying.
  await skopeo('copy', '--src-tls-verify=false', `docker://${name}`, `oci:${join(dir, 'layout')}:copied`)
  assert.ok(existsSync(join(dir, 'layout/index.json')))

  // The other way: skopeo pushes a docker-archive that cais saved (it compresses the layers on the way).
  const archive = join(dir, 'busybox.tar')
  await ok(d, 'save', '-o', archive, BUSYBOX)
  const theirs = `${reg.address}/by-skopeo/busybox:1`
  await skopeo('copy', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${theirs}`)
  const fresh = await startDaemon(t, { importBusybox: false })
  const pulled = await ok(fresh, 'pull', theirs)
  assert.match(pulled, /Pull complete/)
  const run = await fresh.cli('run', '--rm', theirs, 'echo', 'pushed by skopeo')
  assert.equal(run.stdout, 'pushed by skopeo\n', run.stderr)
  assert.deepEqual((await fresh.client.images.inspect(theirs)).RootFS.Layers, local.RootFS.Layers, 'same diff IDs after gzip and back')
})

test('the docker CLI: push, pull and login against caisd and a local registry', { skip: noDocker }, async (t) => {
  const reg = await startRegistry(t, { htpasswd: { user: 'carol', password: 'pa55' } })
  const d = await startDaemon(t)
  const name = `${reg.address}/docker-cli/busybox:1`
  assert.equal((await d.docker('tag', BUSYBOX, name)).code, 0)

  const anon = await d.docker('push', name)
  assert.notEqual(anon.code, 0)
  assert.match(anon.stderr + anon.stdout, /no basic auth credentials|unauthorized/)

  const bad = await d.dockerWithInput('wrong\n', 'login', '-u', 'carol', '--password-stdin', reg.address)
  assert.notEqual(bad.code, 0)
  assert.match(bad.stderr, /unauthorized/)
  const login = await d.dockerWithInput('pa55\n', 'login', '-u', 'carol', '--password-stdin', reg.address)
  assert.equal(login.code, 0, login.stderr)
  assert.match(login.stdout, /Login Succeeded/)

  const push = await d.docker('push', name)
  assert.equal(push.code, 0, push.stderr)
  assert.match(push.stdout, /1: digest: sha256:[a-f0-9]{64} size: \d+/)
  assert.equal((await d.docker('rmi', name)).code, 0)
  assert.equal((await d.docker('rmi', BUSYBOX)).code, 0)

  const pull = await d.docker('pull', name)
  assert.equal(pull.code, 0, pull.stderr)
  assert.match(pull.stdout, /Pull complete/)
  assert.match(pull.stdout, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/docker-cli\/busybox:1/)
  const run = await d.docker('run', '--rm', name, 'echo', 'docker pulled it')
  assert.equal(run.stdout, 'docker pulled it\n', run.stderr)

  const again = await d.docker('pull', name)
  assert.match(again.stdout, /Status: Image is up to date/)
  const missing = await d.docker('pull', `${reg.address}/docker-cli/absent:1`)
  assert.notEqual(missing.code, 0)
  assert.match(missing.stderr, /not found|manifest unknown/)
})
