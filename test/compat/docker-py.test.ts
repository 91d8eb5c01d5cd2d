// Debian's python3-docker (docker-py 5) against caisd, over its own keep-alive connection, at the API versions
// real programs pin: 1.41 (what docker-py 5 negotiates with Docker 20.10) and 1.50.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, runCommand, startDaemon } from '../helpers/daemon.ts'

const python = '/usr/bin/python3'
const skip = existsSync('/usr/lib/python3/dist-packages/docker') ? false : "Debian's python3-docker is not installed"

/** Runs a python script with `c`, an APIClient on the daemon at `version`; returns what it prints, parsed as JSON. */
async function py<T>(d: TestDaemon, version: string, script: string): Promise<T> {
  const program = `import docker, json, sys\nc = docker.APIClient(base_url=${JSON.stringify(d.host)}, version=${JSON.stringify(version)})\n${script}`
  const r = await runCommand(python, ['-c', program], { timeoutMs: 60_000 })
  assert.equal(r.code, 0, `python failed:\n${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

for (const version of ['1.41', '1.50']) {
  test(`docker-py ${version}: a SIGKILL is answered once the container has stopped; inspect and rm right after, on one connection`, { skip }, async (t) => {
    const d = await startDaemon(t)
    const states = await py<{ running: boolean; code: number }[]>(
      d,
      version,
      `out = []
for i in range(10):
    ctr = c.create_container(${JSON.stringify(BUSYBOX)}, ['sleep', '300'])
    c.start(ctr)
    c.kill(ctr)
    s = c.inspect_container(ctr)['State']
    out.append({'running': s['Running'], 'code': s['ExitCode']})
    c.remove_container(ctr)
print(json.dumps(out))`,
    )
    assert.deepEqual(states, Array.from({ length: 10 }, () => ({ running: false, code: 137 })))
  })
}

test('volume prune: before API 1.42 every unused volume goes, named ones too; from 1.42 only anonymous ones', { skip }, async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const pruned = async (version: string): Promise<string[]> =>
    (
      await py<string[] | null>(
        d,
        version,
        `c.create_volume('named')
c.create_volume()
print(json.dumps(sorted(c.prune_volumes()['VolumesDeleted'] or [])))`,
      )
    )?.filter((v) => v === 'named' || /^[0-9a-f]{64}$/.test(v)).map((v) => (v === 'named' ? v : 'anonymous')) ?? []
  assert.deepEqual(await pruned('1.50'), ['anonymous'])
  assert.deepEqual(await pruned('1.41'), ['anonymous', 'named'])
})

for (const version of ['1.41', '1.50']) {
  test(`docker-py ${version}: images.load of a corrupt archive raises ImageLoadError from the stream; the daemon and store stay whole`, { skip }, async (t) => {
    const d = await startDaemon(t)
    const result = await py<{ error: string; images: number }>(
      d,
      version,
      `hl = docker.DockerClient(base_url=${JSON.stringify(d.host)}, version=${JSON.stringify(version)})
try:
    hl.images.load(b'garbage' * 600)
    err = ''
except docker.errors.ImageLoadError as e:
    err = 'ImageLoadError: ' + str(e)
print(json.dumps({'error': err, 'images': len(hl.images.list())}))`,
    )
    assert.match(result.error, /^ImageLoadError: invalid archive/)
    assert.equal(result.images, 1)
  })
}

test('networks: CheckDuplicate=false makes a second network of a name before API 1.44 only; any name is taken', { skip }, async (t) => {
  const d = await startDaemon(t)
  const result = await py<{ warning: string; count: number; ambiguous: string; newer: string; spaced: string }>(
    d,
    '1.41',
    `first = c.create_network('dup', check_duplicate=False)
second = c.create_network('dup', check_duplicate=False)
count = len([n for n in c.networks() if n['Name'] == 'dup'])
try:
    c.inspect_network('dup')
    ambiguous = ''
except docker.errors.APIError as e:
    ambiguous = e.explanation
newer = docker.APIClient(base_url=${JSON.stringify(d.host)}, version='1.44')
try:
    newer.create_network('dup', check_duplicate=False)
    refused = ''
except docker.errors.APIError as e:
    refused = e.explanation
spaced = c.create_network('my net')['Id']
ctr = c.create_container(${JSON.stringify(BUSYBOX)}, ['true'], host_config=c.create_host_config(network_mode='my net'))
c.start(ctr)
c.wait(ctr)
print(json.dumps({'warning': second['Warning'], 'count': count, 'ambiguous': ambiguous, 'newer': refused,
                  'spaced': c.inspect_container(ctr)['HostConfig']['NetworkMode']}))`,
  )
  assert.match(result.warning, /^Network with name dup \(id : [0-9a-f]{64}\) already exists$/)
  assert.equal(result.count, 2)
  assert.equal(result.ambiguous, '2 matches found based on name: network dup is ambiguous')
  assert.equal(result.newer, 'network with name dup already exists')
  assert.equal(result.spaced, 'my net')
})

for (const version of ['1.41', '1.50']) {
  test(`docker-py ${version}: the exec stream is framed as the start asks (Tty false on a TTY exec), as Docker follows the start`, { skip }, async (t) => {
    const d = await startDaemon(t)
    const out = await py<{ framed: string; raw: string }>(
      d,
      version,
      `ctr = c.create_container(${JSON.stringify(BUSYBOX)}, ['sleep', '300'])
c.start(ctr)
tty_exec = c.exec_create(ctr, ['echo', 'hi'], tty=True)
plain_exec = c.exec_create(ctr, ['echo', 'hi'], tty=False)
print(json.dumps({'framed': c.exec_start(tty_exec, tty=False).decode(), 'raw': c.exec_start(plain_exec, tty=True).decode()}))`,
    )
    assert.deepEqual(out, { framed: 'hi\r\n', raw: 'hi\n' })
  })
}
