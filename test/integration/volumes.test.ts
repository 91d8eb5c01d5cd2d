// Volumes and mounts: data that outlives its container, through the cais CLI and the real docker CLI.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, dockerBin, startDaemon, uniqueName } from '../helpers/daemon.ts'

const noDocker = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

test('volume create, ls with filters, inspect, rm; in use is a 409', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  assert.equal((await d.cli('volume', 'create', '--label', 'tier=db', name)).stdout.trim(), name)
  const again = await d.client.volumes.create({ Name: name })
  assert.equal(again.Labels['tier'], 'db', 'creating an existing name returns the existing volume')
  const v = await d.client.volumes.inspect(name)
  assert.equal(v.Driver, 'local')
  assert.equal(v.Scope, 'local')
  assert.ok(existsSync(v.Mountpoint))
  assert.deepEqual((await d.client.volumes.list({ filters: { label: ['tier=db'] } })).Volumes.map((x) => x.Name), [name])
  assert.deepEqual((await d.client.volumes.list({ filters: { label: ['tier=web'] } })).Volumes, [])
  assert.deepEqual((await d.client.volumes.list({ filters: { dangling: ['true'] } })).Volumes.map((x) => x.Name), [name])
  const ctr = uniqueName(t) + '-c'
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'], HostConfig: { Binds: [`${name}:/data`] } }, { name: ctr })
  assert.deepEqual((await d.client.volumes.list({ filters: { dangling: ['true'] } })).Volumes, [])
  await assert.rejects(d.client.volumes.remove(name), /volume is in use/)
  await d.client.containers.remove(ctr, { v: true })
  assert.ok(await d.client.volumes.inspect(name), 'rm -v never removes a named volume')
  assert.equal((await d.cli('volume', 'rm', name)).code, 0)
  await assert.rejects(d.client.volumes.inspect(name), /no such volume/)
  await assert.rejects(d.client.volumes.create({ Name: 'a' }), /volume name is too short/)
  await assert.rejects(d.client.volumes.create({ Name: 'bad/name' }), /includes invalid characters/)
  await assert.rejects(d.client.volumes.create({ Name: 'x1', Driver: 'nfs-plugin' }), /plugin "nfs-plugin" not found/)
})

test('a named volume keeps its data across containers, a daemon kill -9 and a restart', async (t) => {
  const d = await startDaemon(t)
  const vol = uniqueName(t)
  const payload = Array.from({ length: 200 }, (_, i) => `record-${i}-${'x'.repeat(i % 50)}`).join('\n') + '\n'
  writeFileSync(join(d.dir, 'payload'), payload)
  mkdirSync(join(d.dir, 'in'))
  writeFileSync(join(d.dir, 'in', 'payload'), payload)
  // a database-like workload: a shell loop appending records
  const w = await d.cli('run', '--rm', '-v', `${vol}:/db`, '-v', `${d.dir}/in:/in:ro`, BUSYBOX, 'sh', '-c', 'while read -r line; do echo "$line" >> /db/table; done < /in/payload; sync')
  assert.equal(w.code, 0, w.stderr)
  await d.kill9()
  await d.start()
  const r = await d.cli('run', '--rm', '-v', `${vol}:/db`, BUSYBOX, 'cat', '/db/table')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, payload, 'every byte read back')
})

test('copy-up: a new named volume over an image path starts with the image files, owner and mode', async (t) => {
  const d = await startDaemon(t)
  const vol = uniqueName(t)
  const r = await d.cli('run', '--rm', '-v', `${vol}:/etc`, BUSYBOX, 'sh', '-c', 'head -1 /etc/passwd; stat -c %u:%a /etc')
  assert.equal(r.stdout, 'root:x:0:0:root:/root:/bin/sh\n0:755\n')
  const tmp = uniqueName(t) + '-tmp'
  const owned = await d.cli('run', '--rm', '-v', `${tmp}:/tmp`, '-u', 'nobody', BUSYBOX, 'sh', '-c', 'stat -c %a /tmp; touch /tmp/ok && echo writable')
  assert.equal(owned.stdout, '1777\nwritable\n', 'the sticky world-writable mode of /tmp came along')
  const nocopy = await d.cli('run', '--rm', '--mount', `type=volume,source=${uniqueName(t)}-nc,target=/etc,volume-nocopy`, BUSYBOX, 'ls', '/etc')
  assert.equal(nocopy.stdout, '')
})

test('bind mounts: -v creates a missing host dir, --mount refuses; :ro is enforced', async (t) => {
  const d = await startDaemon(t)
  const host = join(d.dir, 'made-by-v')
  const r = await d.cli('run', '--rm', '-v', `${host}:/h`, BUSYBOX, 'sh', '-c', 'echo hi > /h/file')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(readFileSync(join(host, 'file'), 'utf8'), 'hi\n')
  const ro = await d.cli('run', '--rm', '-v', `${host}:/h:ro`, BUSYBOX, 'sh', '-c', 'echo x > /h/file')
  assert.notEqual(ro.code, 0)
  assert.match(ro.stderr, /Read-only file system/)
  const refused = await d.cli('run', '--rm', '--mount', `type=bind,source=${d.dir}/absent,target=/x`, BUSYBOX, 'true')
  assert.equal(refused.code, 125)
  assert.match(refused.stderr, /bind source path does not exist/)
  await assert.rejects(d.client.containers.create({ Image: BUSYBOX, HostConfig: { Binds: ['/a:relative'] } }), /mount path must be absolute/)
  await assert.rejects(d.client.containers.create({ Image: BUSYBOX, HostConfig: { Binds: [`${host}:/x`, `${host}:/x`] } }), /Duplicate mount point: \/x/)
})

test('anonymous volumes: -v /path and --rm; rm -v removes them; prune removes only anonymous by default', async (t) => {
  const d = await startDaemon(t)
  const count = async (): Promise<number> => (await d.client.volumes.list()).Volumes.length
  await d.cli('run', '--rm', '-v', '/scratch', BUSYBOX, 'touch', '/scratch/x')
  assert.equal(await count(), 0, '--rm removed the anonymous volume')
  const name = uniqueName(t)
  await d.cli('create', '--name', name, '-v', '/scratch', BUSYBOX, 'true')
  const mounts = (await d.client.containers.inspect(name)).Mounts as Array<{ Type: string; Name: string; Destination: string }>
  assert.equal(mounts[0]!.Type, 'volume')
  assert.equal(mounts[0]!.Destination, '/scratch')
  assert.match(mounts[0]!.Name, /^[a-f0-9]{64}$/)
  await d.client.containers.remove(name, { v: true })
  assert.equal(await count(), 0, 'rm -v removed it')
  await d.cli('volume', 'create', 'named-keep')
  await d.cli('create', '--name', name, '-v', '/scratch', BUSYBOX, 'true')
  await d.client.containers.remove(name)
  assert.equal(await count(), 2)
  const pruned = await d.client.volumes.prune()
  assert.equal(pruned.VolumesDeleted?.length, 1)
  assert.deepEqual((await d.client.volumes.list()).Volumes.map((v) => v.Name), ['named-keep'])
  const all = await d.client.volumes.prune({ filters: { all: ['true'] } })
  assert.deepEqual(all.VolumesDeleted, ['named-keep'])
})

test('tmpfs mounts, --volumes-from, and a local volume of type tmpfs', async (t) => {
  const d = await startDaemon(t)
  const tmp = await d.cli('run', '--rm', '--tmpfs', '/run:size=1m', BUSYBOX, 'sh', '-c', 'grep " /run " /proc/mounts')
  assert.match(tmp.stdout, /^tmpfs \/run tmpfs rw,nosuid,nodev,noexec,.*size=1024k/)
  const src = uniqueName(t)
  await d.cli('create', '--name', src, '-v', `${uniqueName(t)}-shared:/shared`, BUSYBOX, 'true')
  await d.cli('run', '--rm', '--volumes-from', src, BUSYBOX, 'sh', '-c', 'echo via-from > /shared/f')
  const ro = await d.cli('run', '--rm', '--volumes-from', `${src}:ro`, BUSYBOX, 'sh', '-c', 'cat /shared/f; echo x > /shared/g')
  assert.equal(ro.stdout, 'via-from\n')
  assert.match(ro.stderr, /Read-only/)
  const unknown = await d.cli('run', '--rm', '--volumes-from', 'no-such-ctr', BUSYBOX, 'true')
  assert.equal(unknown.code, 125)
  assert.match(unknown.stderr, /No such container: no-such-ctr/)
  await d.client.volumes.create({ Name: 'mem', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=2m' } })
  const mem = await d.cli('run', '--rm', '-v', 'mem:/m', BUSYBOX, 'sh', '-c', 'grep " /m " /proc/mounts')
  assert.match(mem.stdout, /^tmpfs \/m tmpfs/)
})

test('the docker CLI: volume create/ls/inspect/rm and run -v', { skip: noDocker }, async (t) => {
  const d = await startDaemon(t)
  const vol = uniqueName(t)
  assert.equal((await d.docker('volume', 'create', vol)).stdout.trim(), vol)
  assert.match((await d.docker('volume', 'ls')).stdout, new RegExp(`local\\s+${vol}`))
  assert.equal((await d.docker('volume', 'inspect', '-f', '{{.Driver}} {{.Scope}}', vol)).stdout.trim(), 'local local')
  await d.docker('run', '--rm', '-v', `${vol}:/v`, BUSYBOX, 'sh', '-c', 'echo kept > /v/f')
  const r = await d.docker('run', '--rm', '--mount', `type=volume,src=${vol},dst=/w,readonly`, BUSYBOX, 'cat', '/w/f')
  assert.equal(r.stdout, 'kept\n', r.stderr)
  const rm = await d.docker('volume', 'rm', vol)
  assert.equal(rm.code, 0, rm.stderr)
})
