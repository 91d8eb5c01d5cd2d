// A client that pins an older API version gets that version's behaviour: each gate, on both sides of it.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, startDaemon } from '../helpers/daemon.ts'
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

const createAt = async (d: TestDaemon, version: string, body: Record<string, unknown>): Promise<{ status: number; body: string; id: string; warnings: string[] }> => {
  const r = await raw(d.socket, 'POST', `/v${version}/containers/create`, JSON.stringify({ Image: BUSYBOX, Cmd: ['sleep', '60'], ...body }), json)
  const parsed = r.status === 201 ? (JSON.parse(r.body) as { Id: string; Warnings: string[] | null }) : { Id: '', Warnings: [] }
  return { status: r.status, body: r.body, id: parsed.Id, warnings: parsed.Warnings ?? [] }
}
const hostConfigAt = async (d: TestDaemon, version: string, hostConfig: Record<string, unknown>): Promise<Record<string, unknown>> => {
  const r = await createAt(d, version, { HostConfig: hostConfig })
  assert.equal(r.status, 201, `${version}: ${r.body}`)
  return (await d.client.containers.inspect(r.id)).HostConfig
}

test('create: AutoRemove from 1.25, private IPC by default from 1.40, options of another mount type refused from 1.42, Annotations from 1.43, several networks and ReadOnlyForceRecursive from 1.44, Subpath from 1.45; a PIDs limit of 0 or less is none', async (t) => {
  const d = await startDaemon(t)
  assert.equal((await hostConfigAt(d, '1.24', { AutoRemove: true }))['AutoRemove'], false, 'the client removes it itself')
  assert.equal((await hostConfigAt(d, '1.25', { AutoRemove: true }))['AutoRemove'], true)
  assert.equal((await hostConfigAt(d, '1.39', {}))['IpcMode'], 'shareable')
  assert.equal((await hostConfigAt(d, '1.40', {}))['IpcMode'], 'private')

  const tmpfsWithVolumeOptions = { Mounts: [{ Type: 'tmpfs', Target: '/scratch', VolumeOptions: { NoCopy: true } }] }
  const ignored = await hostConfigAt(d, '1.41', tmpfsWithVolumeOptions)
  assert.deepEqual((ignored['Mounts'] as Array<Record<string, unknown>>).map((m) => m['VolumeOptions']), [undefined])
  const refused = await createAt(d, '1.42', { HostConfig: tmpfsWithVolumeOptions })
  assert.equal(refused.status, 400)
  assert.equal((JSON.parse(refused.body) as { message: string }).message, 'VolumeOptions must not be specified on mount type "tmpfs"')

  assert.equal((await hostConfigAt(d, '1.42', { Annotations: { team: 'a' } }))['Annotations'], undefined)
  assert.deepEqual((await hostConfigAt(d, '1.43', { Annotations: { team: 'a' } }))['Annotations'], { team: 'a' })

  for (const n of ['gate-a', 'gate-b']) await d.client.networks.create({ Name: n })
  const twoNetworks = { HostConfig: { NetworkMode: 'gate-a' }, NetworkingConfig: { EndpointsConfig: { 'gate-a': {}, 'gate-b': {} } } }
  const one = await createAt(d, '1.43', twoNetworks)
  assert.equal(one.status, 400)
  assert.match(one.body, /Container cannot be created with multiple network endpoints: gate-a, gate-b/)
  const two = await createAt(d, '1.44', twoNetworks)
  assert.equal(two.status, 201, two.body)
  assert.deepEqual(Object.keys((await d.client.containers.inspect(two.id)).NetworkSettings['Networks'] as object).sort(), ['gate-a', 'gate-b'])
  const forceRecursive = { HostConfig: { Mounts: [{ Type: 'bind', Source: '/tmp', Target: '/host-tmp', ReadOnly: true, BindOptions: { ReadOnlyForceRecursive: true } }] } }
  const early = await createAt(d, '1.43', forceRecursive)
  assert.equal(early.status, 400)
  assert.match(early.body, /BindOptions\.ReadOnlyForceRecursive needs API v1\.44 or newer/)
  assert.equal((await createAt(d, '1.44', forceRecursive)).status, 201)

  const subpath = { HostConfig: { Mounts: [{ Type: 'volume', Source: 'gate-data', Target: '/data', VolumeOptions: { Subpath: 'inner' } }] } }
  const noSubpath = await createAt(d, '1.44', subpath)
  assert.equal(noSubpath.status, 400)
  assert.match(noSubpath.body, /VolumeOptions\.Subpath needs API v1\.45 or newer/)
  assert.equal((await createAt(d, '1.45', subpath)).status, 201)

  assert.equal((await hostConfigAt(d, '1.50', { PidsLimit: -5 }))['PidsLimit'], null)
  assert.equal((await hostConfigAt(d, '1.50', { PidsLimit: 0 }))['PidsLimit'], null)
})

test('create: the MAC address is the container\'s before 1.44 and the endpoint\'s from 1.44, where the container-wide one moves with a warning', async (t) => {
  const d = await startDaemon(t)
  const macOf = async (id: string): Promise<string> => {
    await d.client.containers.start(id)
    return ((await d.client.containers.inspect(id)).NetworkSettings['Networks'] as Record<string, { MacAddress: string }>)['bridge']!.MacAddress
  }
  const wide = await createAt(d, '1.43', { MacAddress: '02:42:ac:11:00:43' })
  assert.deepEqual(wide.warnings, [])
  assert.equal(await macOf(wide.id), '02:42:ac:11:00:43')
  const endpointOnly = await createAt(d, '1.43', { NetworkingConfig: { EndpointsConfig: { bridge: { MacAddress: '02:42:ac:11:00:44' } } } })
  assert.notEqual(await macOf(endpointOnly.id), '02:42:ac:11:00:44', 'an endpoint\'s MAC address is not looked at before 1.44')
  assert.equal((await createAt(d, '1.44', { NetworkingConfig: { EndpointsConfig: { bridge: { MacAddress: '02:42:ac:11:00:45' } } } })).status, 201)
  const moved = await createAt(d, '1.44', { MacAddress: '02:42:ac:11:00:46' })
  assert.deepEqual(moved.warnings, ['The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig instead.'])
  assert.equal(await macOf(moved.id), '02:42:ac:11:00:46')
  const mismatch = await createAt(d, '1.44', { MacAddress: '02:42:ac:11:00:47', NetworkingConfig: { EndpointsConfig: { bridge: { MacAddress: '02:42:ac:11:00:48' } } } })
  assert.equal(mismatch.status, 400)
  assert.match(mismatch.body, /the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty/)
  const noNetwork = await createAt(d, '1.43', { MacAddress: '02:42:ac:11:00:49', HostConfig: { NetworkMode: 'none' } })
  assert.equal(noNetwork.status, 400)
  assert.match(noNetwork.body, /conflicting options: mac-address and the network mode/)
})

test('inspect, update, stats, images and info: aliases with the short ID before 1.45, PidsLimit updates from 1.40, one-shot stats from 1.41, the image list\'s filter before 1.41, container fields in an image\'s Config before 1.50, expected commits before 1.47', async (t) => {
  const d = await startDaemon(t)
  await d.client.networks.create({ Name: 'gate-net' })
  const { id } = await createAt(d, '1.50', { Hostname: 'gatehost', HostConfig: { NetworkMode: 'gate-net', PidsLimit: 50 }, NetworkingConfig: { EndpointsConfig: { 'gate-net': { Aliases: ['web'] } } } })
  await d.client.containers.start(id)
  const aliasesAt = async (version: string): Promise<string[]> => {
    const view = JSON.parse((await raw(d.socket, 'GET', `/v${version}/containers/${id}/json`)).body) as { NetworkSettings: { Networks: Record<string, { Aliases: string[] }> } }
    return view.NetworkSettings.Networks['gate-net']!.Aliases
  }
  assert.deepEqual(await aliasesAt('1.44'), ['web', id.slice(0, 12), 'gatehost'])
  assert.deepEqual(await aliasesAt('1.45'), ['web'])

  const pidsMax = async (): Promise<string> => (await d.cli('exec', id, 'sh', '-c', 'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max')).stdout.trim()
  assert.equal(await pidsMax(), '50')
  const update = async (version: string, limit: number): Promise<void> => {
    const r = await raw(d.socket, 'POST', `/v${version}/containers/${id}/update`, JSON.stringify({ PidsLimit: limit }), json)
    assert.equal(r.status, 200, r.body)
  }
  await update('1.39', 70)
  assert.equal((await d.client.containers.inspect(id)).HostConfig['PidsLimit'], 50, 'not an update field before 1.40')
  await update('1.40', 70)
  assert.equal(await pidsMax(), '70')
  await update('1.40', -1)
  assert.equal(await pidsMax(), 'max', '-1 lifts the limit of the running container')

  const stats = async (version: string): Promise<{ precpu_stats: { system_cpu_usage?: number } }> =>
    JSON.parse((await raw(d.socket, 'GET', `/v${version}/containers/${id}/stats?stream=0&one-shot=1`)).body) as { precpu_stats: { system_cpu_usage?: number } }
  assert.ok(!(await stats('1.41')).precpu_stats.system_cpu_usage, 'one sample: nothing before it')
  assert.ok((await stats('1.40')).precpu_stats.system_cpu_usage, 'one-shot is not looked at before 1.41: two samples')

  await d.client.images.tag(BUSYBOX, 'gate-other', 'x')
  const listed = async (version: string): Promise<string[]> => (JSON.parse((await raw(d.socket, 'GET', `/v${version}/images/json?filter=gate-other`)).body) as Array<{ RepoTags: string[] }>).flatMap((i) => i.RepoTags)
  assert.deepEqual(await listed('1.40'), ['gate-other:x'])
  assert.ok((await listed('1.41')).includes(BUSYBOX), 'filter is not looked at from 1.41')
  const configAt = async (version: string): Promise<Record<string, unknown>> => (JSON.parse((await raw(d.socket, 'GET', `/v${version}/images/${BUSYBOX}/json`)).body) as { Config: Record<string, unknown> }).Config
  const old = await configAt('1.49')
  assert.deepEqual([old['Hostname'], old['AttachStdin'], old['Tty'], old['Image'], old['Cmd']], ['', false, false, '', ['sh']])
  const now = await configAt('1.50')
  assert.deepEqual([now['Hostname'], now['AttachStdin'], now['Cmd']], [undefined, undefined, ['sh']])

  const commitsAt = async (version: string): Promise<unknown> => (JSON.parse((await raw(d.socket, 'GET', `/v${version}/info`)).body) as { RuncCommit: unknown }).RuncCommit
  assert.deepEqual(await commitsAt('1.46'), { ID: '', Expected: '' })
  assert.deepEqual(await commitsAt('1.47'), { ID: '' })
})

test('import: platform from 1.32', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const archOf = async (version: string): Promise<string> => {
    const r = await raw(d.socket, 'POST', `/v${version}/images/create?fromSrc=-&repo=gate-import&tag=${version}&platform=linux/arm64`, emptyTar(), { 'Content-Type': 'application/x-tar' })
    assert.equal(r.status, 200, r.body)
    return (await d.client.images.inspect(`gate-import:${version}`)).Architecture
  }
  assert.equal(await archOf('1.32'), 'arm64')
  assert.notEqual(await archOf('1.31'), 'arm64', 'platform is not looked at before 1.32')
})

/** A tar archive with no entries: two zero blocks. */
const emptyTar = (): Buffer => Buffer.alloc(1024)

test("cgroup namespace: the host's below 1.41 when none is asked for, the host's default from 1.41 (private on cgroup v2 alone); private runs in its own; a bad mode refused", async (t) => {
  const d = await startDaemon(t)
  const unified = existsSync('/sys/fs/cgroup/cgroup.controllers')
  assert.equal((await hostConfigAt(d, '1.40', {}))['CgroupnsMode'], 'host')
  assert.equal((await hostConfigAt(d, '1.40', { CgroupnsMode: 'private' }))['CgroupnsMode'], 'private')
  assert.equal((await hostConfigAt(d, '1.41', {}))['CgroupnsMode'], unified ? 'private' : 'host')
  const bad = await createAt(d, '1.50', { HostConfig: { CgroupnsMode: 'shared' } })
  assert.equal(bad.status, 400)
  assert.equal((JSON.parse(bad.body) as { message: string }).message, 'invalid cgroup namespace mode: shared')

  const cgroupOf = async (mode: string): Promise<string> => {
    const r = await d.docker('run', '--rm', '--cgroupns', mode, BUSYBOX, 'sh', '-c', 'grep -m1 pids /proc/self/cgroup || head -1 /proc/self/cgroup')
    assert.equal(r.code, 0, r.stderr)
    return r.stdout.trim().split(':').at(-1)!
  }
  assert.equal(await cgroupOf('private'), '/', 'its own cgroup is the root of its namespace')
  assert.match(await cgroupOf('host'), /\/[0-9a-f]{64}$/, "the host's view: the container's cgroup by its full path")
  const cli = await d.docker('run', '--rm', '--cgroupns', 'shared', BUSYBOX, 'true')
  assert.equal(cli.code, 125)
  assert.match(cli.stderr, /--cgroupns: invalid CGROUP mode/)
})

test('images: SharedSize with shared-size from 1.42, Manifests from 1.47, the manifest Descriptor in image and container inspect from 1.48; system df counts each layer once', async (t) => {
  const d = await startDaemon(t)
  const { Id: made } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', 'echo hi > /x'] })
  await d.client.containers.start(made)
  await (await d.client.containers.wait(made)).result
  assert.equal((await raw(d.socket, 'POST', `/commit?container=${made}&repo=child&tag=1`, '{}', json)).status, 201)
  const list = async (version: string, query: string): Promise<Array<Record<string, unknown>>> => {
    const r = await raw(d.socket, 'GET', `/v${version}/images/json?${query}`)
    assert.equal(r.status, 200, r.body)
    return JSON.parse(r.body) as Array<Record<string, unknown>>
  }
  const base = await d.client.images.inspect(BUSYBOX)
  const child = await d.client.images.inspect('child:1')
  assert.deepEqual((await list('1.41', 'shared-size=1')).map((i) => i['SharedSize']), [-1, -1])
  const shared = await list('1.42', 'shared-size=1')
  for (const i of shared) assert.equal(i['SharedSize'], base.Size, 'the base layers are what the two share')
  assert.deepEqual((await list('1.42', '')).map((i) => i['SharedSize']), [-1, -1])

  assert.ok((await list('1.46', 'manifests=1')).every((i) => !('Manifests' in i)))
  const withManifests = await list('1.47', 'manifests=1')
  const childEntry = withManifests.find((i) => i['Id'] === child.Id)!
  const [m] = childEntry['Manifests'] as Array<{ ID: string; Kind: string; Available: boolean; ImageData: { Platform: { os: string; architecture: string }; Containers: string[]; Size: { Unpacked: number } } }>
  assert.equal(m!.Kind, 'image')
  assert.equal(m!.Available, true)
  assert.deepEqual([m!.ImageData.Platform.os, m!.ImageData.Platform.architecture], ['linux', child.Architecture])
  assert.equal(m!.ImageData.Size.Unpacked, child.Size)
  const baseEntry = withManifests.find((i) => i['Id'] === base.Id)!
  assert.deepEqual((baseEntry['Manifests'] as Array<{ ImageData: { Containers: string[] } }>)[0]!.ImageData.Containers, [made], 'the container made from it')

  const inspectImage = async (version: string, query = ''): Promise<Record<string, unknown>> => JSON.parse((await raw(d.socket, 'GET', `/v${version}/images/child:1/json${query}`)).body) as Record<string, unknown>
  assert.equal((await inspectImage('1.47'))['Descriptor'], undefined)
  const descriptor = (await inspectImage('1.48'))['Descriptor'] as { digest: string; mediaType: string; size: number }
  assert.equal(descriptor.digest, m!.ID)
  assert.equal((await inspectImage('1.48'))['Manifests'], undefined, 'only with manifests=1')
  assert.equal(((await inspectImage('1.48', '?manifests=1'))['Manifests'] as unknown[]).length, 1)

  const inspectContainer = async (version: string): Promise<Record<string, unknown>> => JSON.parse((await raw(d.socket, 'GET', `/v${version}/containers/${made}/json`)).body) as Record<string, unknown>
  assert.equal((await inspectContainer('1.47'))['ImageManifestDescriptor'], undefined)
  const ofContainer = (await inspectContainer('1.48'))['ImageManifestDescriptor'] as { digest: string; platform: { os: string } }
  assert.equal(ofContainer.digest, (baseEntry['Manifests'] as Array<{ ID: string }>)[0]!.ID)
  assert.equal(ofContainer.platform.os, 'linux')

  const df = await d.client.system.df()
  assert.equal(df.LayersSize, child.Size, 'the shared base counted once: the child is the base and one more layer')
  assert.ok(df.Images.every((i) => i.SharedSize === base.Size))
})

test('network create: EnableIPv4 from 1.48 (an IPv6-only network refused in words, not made dual-stack)', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const create = (version: string, name: string): ReturnType<typeof raw> =>
    raw(d.socket, 'POST', `/v${version}/networks/create`, JSON.stringify({ Name: name, EnableIPv4: false, EnableIPv6: true, IPAM: { Config: [{ Subnet: `fd00:ca15:${(process.pid % 65535).toString(16)}:${version.replace('.', '')}::/64` }] } }), json)
  const now = await create('1.48', 'v6only')
  assert.equal(now.status, 400)
  assert.match(now.body, /IPv6-only networks \(EnableIPv4: false\) are not supported/)
  assert.equal((await create('1.47', 'v6old')).status, 201, 'ignored before 1.48')
})
