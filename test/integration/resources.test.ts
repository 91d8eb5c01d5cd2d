import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, dockerBin, startDaemon, waitFor } from '../helpers/daemon.ts'

const skipDocker = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`
const v1 = !existsSync('/sys/fs/cgroup/cgroup.controllers')
const cgroupFile = (controller: string, id: string, file: string): string =>
  readFileSync(v1 ? `/sys/fs/cgroup/${controller}/cais/${id}/${file}` : `/sys/fs/cgroup/cais/${id}/${file}`, 'utf8').trim()

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

test('limits reach the cgroup and the process: memory, swap, cpus, cpuset, pids, ulimit', { skip: v1 ? false : 'the cgroup file checks are written for cgroup v1' }, async (t) => {
  const d = await startDaemon(t)
  const id = (
    await ok(d, 'run', '-d', '-m', '16m', '--memory-swap', '32m', '--memory-reservation', '8m', '--cpus', '0.5', '--cpuset-cpus', '1', '--pids-limit', '20', '--cpu-shares', '512', '--ulimit', 'nofile=1024:2048', BUSYBOX, 'sleep', '300')
  ).trim()
  assert.equal(cgroupFile('memory', id, 'memory.limit_in_bytes'), String(16 * 1024 * 1024))
  assert.equal(cgroupFile('memory', id, 'memory.memsw.limit_in_bytes'), String(32 * 1024 * 1024))
  assert.equal(cgroupFile('memory', id, 'memory.soft_limit_in_bytes'), String(8 * 1024 * 1024))
  assert.equal(cgroupFile('cpu', id, 'cpu.cfs_quota_us'), '50000')
  assert.equal(cgroupFile('cpu', id, 'cpu.shares'), '512')
  assert.equal(cgroupFile('cpuset', id, 'cpuset.cpus'), '1')
  assert.equal(cgroupFile('pids', id, 'pids.max'), '20')
  assert.equal((await ok(d, 'exec', id, 'sh', '-c', 'ulimit -n; ulimit -Hn')).trim().split('\n').join(' '), '1024 2048')
  assert.equal((await ok(d, 'run', '--rm', '--ulimit', 'nofile=512:4096', BUSYBOX, 'sh', '-c', 'ulimit -n; ulimit -Hn')).trim().split('\n').join(' '), '512 4096')
  const hc = (await d.client.containers.inspect(id)).HostConfig as unknown as Record<string, unknown>
  assert.equal(hc['Memory'], 16 * 1024 * 1024)
  assert.equal(hc['NanoCpus'], 500_000_000)

  // update: applied to the running container and kept.
  await ok(d, 'update', '-m', '64m', '--memory-swap', '128m', '--pids-limit', '50', '--restart', 'on-failure:3', id)
  assert.equal(cgroupFile('memory', id, 'memory.limit_in_bytes'), String(64 * 1024 * 1024))
  assert.equal(cgroupFile('pids', id, 'pids.max'), '50')
  const after = (await d.client.containers.inspect(id)).HostConfig as unknown as { Memory: number; RestartPolicy: { Name: string; MaximumRetryCount: number } }
  assert.equal(after.Memory, 64 * 1024 * 1024)
  assert.deepEqual(after.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 })
  const missing = await d.cli('update', '-m', '64m', 'nope')
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /No such container: nope/)
})

test('an OOM kill: exit 137 and State.OOMKilled', async (t) => {
  const d = await startDaemon(t)
  // 64 MB into a shell variable, with 8 MB and no swap allowed.
  const r = await d.cli('run', '--name', 'hog', '-m', '8m', '--memory-swap', '8m', BUSYBOX, 'sh', '-c', 'x=$(head -c 67108864 /dev/zero | tr "\\000" x); echo survived')
  assert.equal(r.code, 137, r.stdout + r.stderr)
  const state = (await d.client.containers.inspect('hog')).State
  assert.equal(state.OOMKilled, true)
  assert.equal(state.ExitCode, 137)
  const fine = await d.cli('run', '--name', 'fine', '-m', '64m', BUSYBOX, 'true')
  assert.equal(fine.code, 0)
  assert.equal((await d.client.containers.inspect('fine')).State.OOMKilled, false)
})

test('bad resource values: Docker messages, exit 125', async (t) => {
  const d = await startDaemon(t)
  const cases: Array<[string[], RegExp]> = [
    [['-m', '1m'], /Minimum memory limit allowed is 6MB/],
    [['-m', '10m', '--memory-reservation', '20m'], /Minimum memory limit can not be less than memory reservation limit/],
    [['-m', '20m', '--memory-swap', '10m'], /Minimum memoryswap limit should be larger than memory limit/],
    [['--cpus', '64'], /Range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available/],
    [['--cpuset-cpus', '99'], /Requested CPUs are not available - requested 99/],
    [['--cpuset-cpus', 'x-y'], /Invalid value x-y for cpuset cpus/],
    [['-m', 'lots'], /invalid argument "lots" for "--memory" flag/],
    [['--ulimit', 'nofile=10:5'], /ulimit soft limit must be less than or equal to hard limit/],
  ]
  for (const [flags, message] of cases) {
    const r = await d.cli('run', '--rm', ...flags, BUSYBOX, 'true')
    assert.equal(r.code, 125, `${flags.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, message)
  }
  assert.deepEqual(await d.client.containers.list({ all: true }), [], 'nothing was created')
})

test('stats under load: CPU %, memory usage and limit, PIDs, network; Docker JSON and table', async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'run', '-d', '--name', 'busy', '-m', '32m', BUSYBOX, 'sh', '-c', 'while :; do :; done')
  await ok(d, 'run', '-d', '--name', 'idle', BUSYBOX, 'sleep', '300')
  let sample
  for await (const s of await d.client.containers.stats('busy', { stream: false })) sample = s
  assert.ok(sample)
  assert.equal(sample.name, '/busy')
  assert.ok(sample.cpu_stats.cpu_usage.total_usage > sample.precpu_stats.cpu_usage.total_usage, 'CPU time went up between the two samples')
  assert.equal(sample.memory_stats.limit, 32 * 1024 * 1024)
  assert.ok((sample.memory_stats.usage ?? 0) > 0)
  assert.ok((sample.pids_stats.current ?? 0) >= 1)
  assert.ok(sample.networks?.['eth0'], 'eth0 on the default bridge')

  const table = await ok(d, 'stats', '--no-stream')
  const lines = table.trim().split('\n')
  assert.match(lines[0]!, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/)
  const busy = lines.find((l) => l.includes(' busy '))!
  const cpu = Number(/(\d+\.\d+)%/.exec(busy)![1])
  assert.ok(cpu > 20, `a spinning shell uses CPU: ${busy}`)
  assert.match(busy, /\/ 32MiB/)
  const idle = lines.find((l) => l.includes(' idle '))!
  assert.ok(Number(/(\d+\.\d+)%/.exec(idle)![1]) < 20, idle)

  const streamed: number[] = []
  const ac = new AbortController()
  for await (const s of await d.client.containers.stats('idle', { stream: true, signal: ac.signal }).catch(() => (async function* () {})())) {
    streamed.push(Date.parse(s.read))
    if (streamed.length === 2) break
  }
  ac.abort()
  assert.equal(streamed.length, 2)
  assert.ok(streamed[1]! - streamed[0]! >= 900, 'one sample a second')
})

test('the docker CLI: --memory, stats --no-stream, update, OOMKilled', { skip: skipDocker }, async (t) => {
  const d = await startDaemon(t)
  assert.equal((await d.docker('run', '-d', '--name', 'dres', '--memory', '24m', BUSYBOX, 'sleep', '300')).code, 0)
  const stats = await d.docker('stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', 'dres')
  assert.equal(stats.code, 0, stats.stderr)
  assert.match(stats.stdout, /^dres .* \/ 24MiB 1\n$/)
  const update = await d.docker('update', '--memory', '48m', '--memory-swap', '96m', 'dres')
  assert.equal(update.code, 0, update.stderr)
  assert.equal((await d.docker('inspect', '-f', '{{.HostConfig.Memory}}', 'dres')).stdout.trim(), String(48 * 1024 * 1024))
  const oom = await d.docker('run', '--name', 'doom', '--memory', '8m', '--memory-swap', '8m', BUSYBOX, 'sh', '-c', 'x=$(head -c 67108864 /dev/zero | tr "\\000" x)')
  assert.equal(oom.code, 137)
  await waitFor('the exit', async () => (await d.docker('inspect', '-f', '{{.State.OOMKilled}}', 'doom')).stdout.trim() === 'true' || undefined)
})
