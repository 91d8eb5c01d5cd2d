// The container life cycle through the typed client, against a real caisd, crun and conmon.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, startDaemon, uniqueName, waitFor } from '../helpers/daemon.ts'

async function collect(gen: AsyncGenerator<{ stream: string; data: Buffer }>): Promise<{ stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  for await (const c of gen) {
    if (c.stream === 'stderr') stderr += c.data.toString()
    else stdout += c.data.toString()
  }
  return { stdout, stderr }
}

test('create merges the image config: env, cmd, entrypoint, workdir, user, labels', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create(
    { Image: BUSYBOX, Entrypoint: ['sh', '-c'], Cmd: ['echo "$GREETING from $(pwd) as $(id -u):$(id -g) on $(hostname)"'], Env: ['GREETING=hello'], WorkingDir: '/tmp', User: 'nobody', Hostname: 'box', Labels: { a: 'b' } },
    { name },
  )
  const info = await d.client.containers.inspect(name)
  assert.equal(info.Path, 'sh')
  assert.deepEqual(info.Config.Entrypoint, ['sh', '-c'])
  assert.ok(info.Config.Env.includes('GREETING=hello'))
  assert.ok(info.Config.Env.some((e) => e.startsWith('PATH=')))
  assert.equal(info.Config.Labels['a'], 'b')
  assert.equal(info.HostConfig.LogConfig.Type, 'json-file')
  const { result } = await d.client.containers.wait(name, 'next-exit')
  await d.client.containers.start(name)
  assert.equal((await result).StatusCode, 0)
  const logs = await collect(await d.client.containers.logs(name))
  assert.equal(logs.stdout, 'hello from /tmp as 65534:65534 on box\n')
})

test('wait: not-running returns at once for a created container, next-exit waits, removed fires on rm', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', 'exit 7'] }, { name })
  const now = await d.client.containers.wait(name, 'not-running')
  assert.equal((await now.result).StatusCode, 0)
  const next = await d.client.containers.wait(name, 'next-exit')
  const removed = await d.client.containers.wait(name, 'removed')
  await d.client.containers.start(name)
  assert.equal((await next.result).StatusCode, 7)
  await d.client.containers.remove(name)
  assert.equal((await removed.result).StatusCode, 7)
})

test('logs: stdout and stderr apart, tail, timestamps, since, follow', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', 'echo one; echo two >&2; echo three; sleep 1; echo four'] }, { name })
  // A container that never ran has nothing to follow: the follow ends at once, as Docker's.
  const early = await collect(await d.client.containers.logs(name, { follow: true }))
  assert.equal(early.stdout + early.stderr, '')
  await d.client.containers.start(name)
  const followed = await collect(await d.client.containers.logs(name, { follow: true }))
  assert.equal(followed.stdout, 'one\nthree\nfour\n', 'follow ends when the container stops')
  assert.equal(followed.stderr, 'two\n')
  const onlyErr = await collect(await d.client.containers.logs(name, { stdout: false }))
  assert.equal(onlyErr.stdout + onlyErr.stderr, 'two\n')
  // stdout and stderr are separate pipes, so only the order within each is fixed
  const tail = await collect(await d.client.containers.logs(name, { tail: '1' }))
  assert.equal(tail.stdout, 'four\n')
  const none = await collect(await d.client.containers.logs(name, { tail: '0' }))
  assert.equal(none.stdout + none.stderr, '')
  const stamped = await collect(await d.client.containers.logs(name, { timestamps: true, stderr: false }))
  for (const line of stamped.stdout.trim().split('\n')) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (one|three|four)$/)
  const lastTime = stamped.stdout.trim().split('\n').at(-1)!.split(' ')[0]!
  const since = (Date.parse(lastTime) / 1000 - 0.1).toFixed(3)
  const recent = await collect(await d.client.containers.logs(name, { since }))
  assert.equal(recent.stdout, 'four\n')
})

/** The frames of a multiplexed stream: [stream byte, payload] each. */
function frames(raw: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = []
  for (let at = 0; at < raw.length; ) {
    const size = raw.readUInt32BE(at + 4)
    out.push([raw[at]!, raw.subarray(at + 8, at + 8 + size).toString()])
    at += 8 + size
  }
  return out
}

function rawGet(socketPath: string, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    request({ socketPath, path }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks)))
    })
      .on('error', reject)
      .end()
  })
}

test('logs framing: a read shares a frame among consecutive lines of a stream; a follower gets a frame per line', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  // Pauses keep the order of the two pipes in the log as written.
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', 'echo out1; echo out2; sleep 0.3; echo err1 >&2; sleep 0.3; echo out3'] }, { name })
  await d.client.containers.start(name)
  const followed = rawGet(d.socket, `/v1.50/containers/${name}/logs?stdout=1&stderr=1&follow=1`)
  await (await d.client.containers.wait(name)).result
  assert.deepEqual(frames(await followed), [[1, 'out1\n'], [1, 'out2\n'], [2, 'err1\n'], [1, 'out3\n']])
  assert.deepEqual(frames(await rawGet(d.socket, `/v1.50/containers/${name}/logs?stdout=1&stderr=1`)), [[1, 'out1\nout2\n'], [2, 'err1\n'], [1, 'out3\n']])
  // Lines of a stream not asked for do not split the frames of the other.
  assert.deepEqual(frames(await rawGet(d.socket, `/v1.50/containers/${name}/logs?stdout=1`)), [[1, 'out1\nout2\nout3\n']])
})

test('attach before start receives all output, multiplexed', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', 'echo first; echo second >&2'] }, { name })
  const attached = await d.client.containers.attach(name, { stream: true })
  const { result } = await d.client.containers.wait(name, 'next-exit')
  await d.client.containers.start(name)
  const out = await collect(attached.output)
  assert.equal(out.stdout, 'first\n')
  assert.equal(out.stderr, 'second\n')
  assert.equal((await result).StatusCode, 0)
})

test('list filters: status, name, id, label, ancestor; all', async (t) => {
  const d = await startDaemon(t)
  const a = uniqueName(t) + '-a'
  const b = uniqueName(t) + '-b'
  const ida = (await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '60'], Labels: { role: 'web' } }, { name: a })).Id
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'], Labels: { role: 'db' } }, { name: b })
  await d.client.containers.start(a)
  const names = async (opts: Parameters<typeof d.client.containers.list>[0]): Promise<string[]> =>
    (await d.client.containers.list(opts)).map((c) => c.Names[0]!.slice(1)).sort()
  assert.deepEqual(await names({}), [a])
  assert.deepEqual(await names({ all: true }), [a, b].sort())
  assert.deepEqual(await names({ filters: { status: ['created'] } }), [b])
  assert.deepEqual(await names({ all: true, filters: { label: ['role=db'] } }), [b])
  assert.deepEqual(await names({ all: true, filters: { label: ['role'] } }), [a, b].sort())
  assert.deepEqual(await names({ all: true, filters: { id: [ida.slice(0, 10)] } }), [a])
  assert.deepEqual(await names({ all: true, filters: { name: [b] } }), [b])
  // Regular expressions; one that does not compile matches nothing, the others still do.
  assert.deepEqual(await names({ all: true, filters: { name: [`^/?${a}$`] } }), [a])
  assert.deepEqual(await names({ all: true, filters: { name: ['(unclosed'] } }), [])
  assert.deepEqual(await names({ all: true, filters: { name: ['(unclosed', `${b}$`] } }), [b])
  assert.deepEqual(await names({ all: true, filters: { ancestor: [BUSYBOX] } }), [a, b].sort())
  assert.deepEqual(await names({ all: true, filters: { ancestor: ['nope'] } }), [])
  const summary = (await d.client.containers.list({}))[0]!
  assert.equal(summary.State, 'running')
  assert.match(summary.Status, /^Up /)
  assert.equal(summary.Command, 'sleep 60')
  assert.match(summary.ImageID, /^sha256:/)
})

test('kill with a signal, restart, and rm -f of a running container', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', 'trap "exit 12" USR1; while true; do sleep 0.1; done'] }, { name })
  await d.client.containers.start(name)
  const { result } = await d.client.containers.wait(name, 'next-exit')
  await d.client.containers.kill(name, 'SIGUSR1')
  assert.equal((await result).StatusCode, 12)
  await d.client.containers.restart(name, { t: 1 })
  const info = await d.client.containers.inspect(name)
  assert.equal(info.State.Running, true)
  await d.client.containers.remove(name, { force: true })
  await assert.rejects(d.client.containers.inspect(name), /No such container/)
})

test('after rm nothing of the container remains: mount, conmon, crun state, files, cgroup', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  const { Id: id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '60'] }, { name })
  await d.client.containers.start(name)
  const conmonPid = Number(readFileSync(join(d.execRoot, 'containers', id, 'conmon.pid'), 'utf8'))
  assert.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(id), 'mounted while running')
  await d.client.containers.remove(name, { force: true })
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(id), 'no mount left')
  await waitFor('conmon exit', () => {
    try {
      process.kill(conmonPid, 0)
      return readFileSync(`/proc/${conmonPid}/stat`, 'utf8').split(' ')[2] === 'Z' ? true : undefined
    } catch {
      return true
    }
  })
  assert.ok(!existsSync(join(d.root, 'containers', id)), 'no record or log left')
  assert.ok(!existsSync(join(d.execRoot, 'containers', id)), 'no bundle left')
  assert.ok(!existsSync(join(d.execRoot, 'exits', id)), 'no exit file left')
  // crun's state and cgroups are released just after the removal answers.
  const runtimeState = (): string[] => [
    ...(readdirSync(join(d.execRoot, 'crun')).includes(id) ? ['crun state'] : []),
    ...['memory', 'pids', 'cpu'].filter((controller) => existsSync(`/sys/fs/cgroup/${controller}/cais/${id}`)).map((c) => `${c} cgroup`),
  ]
  await waitFor('crun state and cgroups to go', () => (runtimeState().length === 0 ? true : undefined), 2000).catch(() => {})
  assert.deepEqual(runtimeState(), [])
})

test('--network host shares the host network; none has only loopback; the default adds eth0', async (t) => {
  const d = await startDaemon(t)
  const isolated = await d.cli('run', '--rm', '--network', 'none', BUSYBOX, 'sh', '-c', 'ls /sys/class/net')
  assert.equal(isolated.stdout.trim(), 'lo')
  // The marker tells lost output (none at all) from a namespace without its links.
  const bridged = await d.cli('run', '--rm', BUSYBOX, 'sh', '-c', 'ls /sys/class/net; echo end-of-list')
  assert.deepEqual(bridged.stdout.trim().split(/\s+/).sort(), ['end-of-list', 'eth0', 'lo'], `exit ${bridged.code}: ${bridged.stderr}\n${d.logs().slice(-4000)}`)
  // Other test daemons add and remove bridges meanwhile: compare with what the host had before and after.
  const before = readdirSync('/sys/class/net')
  const host = await d.cli('run', '--rm', '--network', 'host', BUSYBOX, 'sh', '-c', 'ls /sys/class/net')
  const after = readdirSync('/sys/class/net')
  const seen = host.stdout.trim().split(/\s+/)
  for (const link of before.filter((l) => after.includes(l))) assert.ok(seen.includes(link), `${link} is visible with --network host: ${host.stdout}`)
  // A veth seen only during the run is another test container's, come and gone meanwhile.
  for (const link of seen) assert.ok(before.includes(link) || after.includes(link) || link.startsWith('veth'), `${link} is one of the host's links`)
})
