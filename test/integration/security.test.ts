import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, dockerBin, startDaemon } from '../helpers/daemon.ts'

const skipDocker = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

async function run(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli('run', '--rm', ...args)
  assert.equal(r.code, 0, `cais run ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

const statusField = (text: string, field: string): string => new RegExp(`^${field}:\\s*(\\S+)`, 'm').exec(text)?.[1] ?? ''

test('seccomp: filtered by default; unconfined, privileged and a custom profile', async (t) => {
  const d = await startDaemon(t)
  assert.equal(statusField(await run(d, BUSYBOX, 'cat', '/proc/self/status'), 'Seccomp'), '2', 'a filter by default')
  assert.equal(statusField(await run(d, '--security-opt', 'seccomp=unconfined', BUSYBOX, 'cat', '/proc/self/status'), 'Seccomp'), '0')
  assert.equal(statusField(await run(d, '--privileged', BUSYBOX, 'cat', '/proc/self/status'), 'Seccomp'), '0')
  // Threads still start under the filter (clone3 answers ENOSYS, so glibc falls back to clone).
  assert.equal((await run(d, BUSYBOX, 'sh', '-c', 'echo ok')).trim(), 'ok')

  const dir = mkdtempSync('/tmp/cais-test-seccomp-')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const profile = join(dir, 'no-mkdir.json')
  writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }))
  const denied = await d.cli('run', '--rm', '--security-opt', `seccomp=${profile}`, BUSYBOX, 'mkdir', '/tmp/x')
  assert.notEqual(denied.code, 0)
  assert.match(denied.stderr, /Operation not permitted/)
  const bad = await d.cli('run', '--rm', '--security-opt', 'colour=blue', BUSYBOX, 'true')
  assert.equal(bad.code, 125)
  assert.match(bad.stderr, /invalid --security-opt 2: "colour=blue"/)
})

test("capabilities, no-new-privileges, masked and read-only /proc paths: Docker's defaults", async (t) => {
  const d = await startDaemon(t)
  const status = await run(d, BUSYBOX, 'cat', '/proc/self/status')
  assert.equal(statusField(status, 'CapEff'), '00000000a80425fb', "Docker's default capability set")
  assert.equal(statusField(await run(d, '--cap-drop', 'ALL', BUSYBOX, 'cat', '/proc/self/status'), 'CapEff'), '0000000000000000')
  const netAdmin = BigInt(`0x${statusField(await run(d, '--cap-add', 'NET_ADMIN', BUSYBOX, 'cat', '/proc/self/status'), 'CapEff')}`)
  assert.equal((netAdmin >> 12n) & 1n, 1n, 'CAP_NET_ADMIN added')
  assert.equal(statusField(await run(d, '--security-opt', 'no-new-privileges', BUSYBOX, 'cat', '/proc/self/status'), 'NoNewPrivs'), '1')
  const masked = ['/proc/kcore', '/proc/timer_list', '/proc/sched_debug', '/proc/keys'].find((p) => existsSync(p))
  if (masked) assert.equal(await run(d, BUSYBOX, 'sh', '-c', `wc -c < ${masked}`), '0\n', `${masked} is masked`)
  const sys = await d.cli('run', '--rm', BUSYBOX, 'sh', '-c', 'echo 1 > /proc/sys/vm/drop_caches')
  assert.notEqual(sys.code, 0, '/proc/sys is read-only')
})

test('sysctl, devices, pid/ipc/uts modes, read-only root, users, groups, shm size, dns', async (t) => {
  const d = await startDaemon(t)
  assert.equal((await run(d, '--sysctl', 'net.ipv4.ip_forward=1', BUSYBOX, 'cat', '/proc/sys/net/ipv4/ip_forward')).trim(), '1')
  const notNs = await d.cli('run', '--rm', '--sysctl', 'vm.swappiness=10', BUSYBOX, 'true')
  assert.equal(notNs.code, 125)
  assert.match(notNs.stderr, /sysctl "vm\.swappiness" is not allowed/)

  assert.match(await run(d, '--device', '/dev/null:/dev/mynull', BUSYBOX, 'ls', '-l', '/dev/mynull'), /^c.* 1,\s+3 /)
  const noDevice = await d.cli('run', '--rm', '--device', '/dev/nope-such-device', BUSYBOX, 'true')
  assert.equal(noDevice.code, 125)
  assert.match(noDevice.stderr, /error gathering device information while adding custom device "\/dev\/nope-such-device"/)

  assert.equal((await run(d, '--uts', 'host', BUSYBOX, 'hostname')).trim(), hostname())
  const utsConflict = await d.cli('run', '--rm', '--uts', 'host', '-h', 'other', BUSYBOX, 'true')
  assert.equal(utsConflict.code, 125)
  assert.match(utsConflict.stderr, /Conflicting options: hostname and the UTS mode/)
  assert.notEqual((await run(d, '--pid', 'host', BUSYBOX, 'cat', '/proc/1/comm')).trim(), 'cat', 'PID 1 is the host init')
  await d.cli('run', '-d', '--name', 'target', BUSYBOX, 'sleep', '301')
  assert.match(await run(d, '--pid', 'container:target', BUSYBOX, 'ps'), /sleep 301/)
  await run(d, '--ipc', 'host', BUSYBOX, 'true')
  const badIpc = await d.cli('run', '--rm', '--ipc', 'weird', BUSYBOX, 'true')
  assert.equal(badIpc.code, 125)
  assert.match(badIpc.stderr, /invalid IPC mode: weird/)

  const ro = await d.cli('run', '--rm', '--read-only', '--tmpfs', '/tmp', BUSYBOX, 'sh', '-c', 'touch /tmp/ok && echo tmp-ok; touch /nope')
  assert.match(ro.stdout, /tmp-ok/)
  assert.match(ro.stderr, /Read-only file system/)
  // The primary group is among the supplementary ones, as Docker's (checked against dockerd 20.10).
  assert.equal((await run(d, '-u', '1000:1000', '--group-add', '123', BUSYBOX, 'id')).trim(), 'uid=1000 gid=1000 groups=123,1000')
  assert.equal((await run(d, BUSYBOX, 'id')).trim(), 'uid=0(root) gid=0(root) groups=0(root)')
  assert.equal((await run(d, '-u', 'daemon', BUSYBOX, 'id')).trim(), 'uid=1(daemon) gid=1(daemon) groups=1(daemon)')
  assert.match(await run(d, '--shm-size', '16m', BUSYBOX, 'df', '-k', '/dev/shm'), /\s16384\s/)
  assert.equal(
    await run(d, '--network', 'none', '--dns', '10.9.9.9', '--dns-search', 'example.test', '--dns-option', 'ndots:2', BUSYBOX, 'cat', '/etc/resolv.conf'),
    'nameserver 10.9.9.9\nsearch example.test\noptions ndots:2\n',
  )
  // On a user network the embedded DNS is the nameserver; search and options still come from the flags.
  await d.cli('network', 'create', 'dnsnet')
  const gateway = (await d.client.networks.inspect('dnsnet')).IPAM.Config[0]!.Gateway
  assert.equal(
    await run(d, '--network', 'dnsnet', '--dns-search', 'example.test', '--dns-option', 'ndots:3', BUSYBOX, 'cat', '/etc/resolv.conf'),
    `nameserver ${gateway}\nsearch example.test\noptions ndots:3\n`,
  )
})

test('the docker CLI: --security-opt, --cap-drop, --sysctl, --pid, --read-only and inspect', { skip: skipDocker }, async (t) => {
  const d = await startDaemon(t)
  const r = await d.docker('run', '--rm', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--sysctl', 'net.ipv4.ping_group_range=0 0', '--read-only', BUSYBOX, 'sh', '-c', 'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; cat /proc/sys/net/ipv4/ping_group_range')
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /CapEff:\s+0000000000000000/)
  assert.match(r.stdout, /NoNewPrivs:\s+1/)
  assert.match(r.stdout, /^0\s+0$/m)
  const c = await d.docker('create', '--name', 'inspected', '--pid', 'host', '--cap-add', 'SYS_TIME', '--security-opt', 'seccomp=unconfined', BUSYBOX, 'true')
  assert.equal(c.code, 0, c.stderr)
  const hc = await d.docker('inspect', '-f', '{{.HostConfig.PidMode}} {{.HostConfig.CapAdd}} {{.HostConfig.SecurityOpt}}', 'inspected')
  assert.equal(hc.stdout.trim(), 'host [CAP_SYS_TIME] [seccomp=unconfined]', 'as the docker CLI sent them')
})

test("a container's /etc/passwd and /etc/group that link out of it: names resolve inside the container, never from the host's files", async (t) => {
  const d = await startDaemon(t)
  const outside = mkdtempSync(join(d.root, '..', 'outside-'))
  t.after(() => rmSync(outside, { recursive: true, force: true }))
  writeFileSync(join(outside, 'passwd'), 'intruder:x:4242:4242::/:/bin/sh\n')
  writeFileSync(join(outside, 'group'), 'intruders:x:4343:\n')
  const plant = await d.cli('run', '--name', 'planter', BUSYBOX, 'sh', '-c', `ln -sf ${outside}/passwd /etc/passwd && ln -sf ../..${outside}/group /etc/group`)
  assert.equal(plant.code, 0, plant.stderr)
  assert.equal((await d.cli('commit', 'planter', 'planted')).code, 0)

  const run_ = await d.cli('run', '--rm', '--user', 'intruder', 'planted', 'id')
  assert.notEqual(run_.code, 0)
  assert.doesNotMatch(run_.stdout, /4242/)
  assert.match(run_.stderr, /unable to find user intruder: no matching entries in passwd file/)
  const group = await d.cli('run', '--rm', '--user', '0:intruders', 'planted', 'id')
  assert.match(group.stderr, /unable to find group intruders: no matching entries in group file/)
  assert.equal((await d.cli('run', '-d', '--name', 'sleeper', 'planted', 'sleep', '60')).code, 0)
  const exec = await d.cli('exec', '--user', 'intruder', 'sleeper', 'id')
  assert.equal(exec.code, 126)
  // (On the exec's own stream, as Docker writes an exec's start error once the stream is open.)
  assert.match(exec.stdout + exec.stderr, /unable to find user intruder: no matching entries in passwd file/)
  // A link that stays inside resolves as the container would: to its own file.
  assert.equal((await d.cli('exec', 'sleeper', 'sh', '-c', 'echo "inside:x:4444:4444::/:/bin/sh" > /etc/passwd.real && ln -sf passwd.real /etc/passwd')).code, 0)
  assert.equal((await d.cli('exec', '--user', 'inside', 'sleeper', 'id', '-u')).stdout, '4444\n')
})
