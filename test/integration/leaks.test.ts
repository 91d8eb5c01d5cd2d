import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, startDaemon, waitFor } from '../helpers/daemon.ts'

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

/** Everything on the host that names a container: mounts, cgroups, conmon, netns, veths, state files. */
function traces(d: TestDaemon, id: string): string[] {
  const found: string[] = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.includes(id)) found.push(`mount: ${line.split(' ')[4]}`)
  for (const controller of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', controller, 'cais', id)
    if (existsSync(dir)) found.push(`cgroup: ${dir}`)
  }
  if (existsSync(join('/sys/fs/cgroup/cais', id))) found.push('cgroup v2')
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const cmdline = (() => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      } catch {
        return ''
      }
    })()
    if (cmdline.includes(id)) found.push(`process ${pid}: ${cmdline.split('\0').slice(0, 2).join(' ')}`)
  }
  if (execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(`cais-${id.slice(0, 12)}`)) found.push('netns')
  for (const dir of [join(d.root, 'containers', id), join(d.execRoot, 'containers', id), join(d.execRoot, 'exits', id), join(d.execRoot, 'crun', id)]) {
    if (existsSync(dir)) found.push(`state: ${dir}`)
  }
  return found
}

test('after rm nothing of the container is left: mounts, cgroups, conmon, namespace, veth, state files', async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'network', 'create', 'leaknet')
  const links = (): string[] => execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
  /** The host ends of the container's veths, from the network records. */
  const vethsOf = (container: string): string[] =>
    readdirSync(join(d.root, 'networks'))
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => {
        const rec = JSON.parse(readFileSync(join(d.root, 'networks', f), 'utf8')) as { endpoints: Record<string, { hostIf: string }> }
        return rec.endpoints[container] ? [rec.endpoints[container].hostIf] : []
      })
  const id = (await ok(d, 'run', '-d', '-p', '18090:80', '-m', '32m', '-v', 'leakvol:/data', '--tmpfs', '/scratch', BUSYBOX, 'sleep', '300')).trim()
  await ok(d, 'network', 'connect', 'leaknet', id)
  await ok(d, 'exec', id, 'true')
  assert.ok(traces(d, id).length > 0, 'the running container has traces (the check can see them)')
  const veths = vethsOf(id)
  assert.equal(veths.length, 2, 'one veth per network')
  assert.ok(veths.every((v) => links().includes(v)))
  await ok(d, 'rm', '-f', id)
  // The addresses, mounts and veths go before rm -f answers; crun's cgroups and state dir just after it.
  const left = traces(d, id).filter((x) => !x.startsWith('cgroup') && !x.startsWith(`state: ${join(d.execRoot, 'crun')}`))
  assert.deepEqual(left, [])
  await waitFor('the cgroups and crun state released', () => (traces(d, id).length === 0 ? true : undefined), 2000).catch(() => {})
  assert.deepEqual(traces(d, id), [])
  assert.deepEqual(veths.filter((v) => links().includes(v)), [], 'no veth left')
  assert.deepEqual(vethsOf(id), [], 'no endpoint left in the network records')

  // A container that exited by itself, then removed; and one that never started.
  const exited = (await ok(d, 'run', '-d', BUSYBOX, 'true')).trim()
  await d.client.containers.wait(exited, 'not-running').then((w) => w.result)
  await ok(d, 'rm', exited)
  assert.deepEqual(traces(d, exited), [])
  const created = (await ok(d, 'create', BUSYBOX, 'true')).trim()
  await ok(d, 'rm', created)
  assert.deepEqual(traces(d, created), [])
  // --rm after a start failure.
  const failed = await d.cli('run', '--rm', '--name', 'broken', BUSYBOX, 'no-such-command')
  assert.equal(failed.code, 127)
  assert.equal((await d.client.containers.list({ all: true })).length, 0)
})

test('--pid host: what the init leaves running is killed at its exit, and its cgroups go', async (t) => {
  const d = await startDaemon(t)
  // In the host's PID namespace a child outlives the init; Docker kills it when the container stops.
  const id = (await ok(d, 'run', '-d', '--pid', 'host', BUSYBOX, 'sh', '-c', 'sleep 600 & echo $!; exit 0')).trim()
  await d.client.containers.wait(id, 'not-running').then((w) => w.result)
  const pid = Number((await ok(d, 'logs', id)).trim())
  assert.ok(pid > 1, `the survivor's PID from the log: ${pid}`)
  const alive = (): boolean => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep')
    } catch {
      return false
    }
  }
  for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100))
  assert.equal(alive(), false, 'the sleep left by the init is gone')
  // crun kills it, waits for it, then removes the cgroups: they may outlive it by a few milliseconds.
  const cgroups = (): string[] => traces(d, id).filter((x) => x.startsWith('cgroup'))
  await waitFor('its cgroups to go', () => (cgroups().length === 0 ? true : undefined), 5000).catch(() => {})
  assert.deepEqual(cgroups(), [])
  await ok(d, 'rm', id)
  assert.deepEqual(traces(d, id), [])
})
