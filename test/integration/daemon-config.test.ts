import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, caisdBin, runCommand, startDaemon, waitFor } from '../helpers/daemon.ts'
import { httpGet } from '../helpers/http.ts'
import { freePort, startRegistry } from '../helpers/registry.ts'

const caisd = (...args: string[]): ReturnType<typeof runCommand> => runCommand(caisdBin, args)

test('daemon.json: keys become settings; a key also given as a flag, an unknown key, a wrong type or bad JSON is refused, naming it', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const file = join(d.dir, 'checked.json')
  const check = async (content: string, ...flags: string[]): Promise<{ code: number; out: string }> => {
    writeFileSync(file, content)
    const r = await caisd('--config-file', file, '--validate', ...flags)
    return { code: r.code, out: (r.stdout + r.stderr).split('\n')[0]! }
  }
  assert.deepEqual(await check('{"labels": ["tier=test"], "max-concurrent-downloads": 4, "default-address-pools": [{"base": "10.240.0.0/16", "size": 24}]}'), { code: 0, out: 'configuration OK' })
  assert.deepEqual(await check('{"log-level": "warn"}', '--log-level', 'info'), {
    code: 125,
    out: `caisd: unable to configure the cais daemon with file ${file}: the following directives are specified both as a flag and in the configuration file: log-level: (from flag: info, from file: "warn")`,
  })
  assert.deepEqual(await check('{"debug": true, "storage-driver": "vfs", "live-restore": true}'), {
    code: 125,
    out: `caisd: unable to configure the cais daemon with file ${file}: the following directives don't match any configuration option: storage-driver, live-restore`,
  })
  assert.deepEqual(await check('{"max-concurrent-downloads": "3"}'), { code: 125, out: `caisd: unable to configure the cais daemon with file ${file}: max-concurrent-downloads must be an integer, not "3"` })
  const bad = await check('{\n  "debug": true,\n  "labels": ["a=b",]\n}')
  assert.equal(bad.code, 125)
  assert.match(bad.out, /with file .*checked\.json: .* at line 3, column 20$/)
  assert.deepEqual(await check('{"log-level": "loud"}'), { code: 125, out: 'caisd: invalid log level: loud' })
  const missing = await caisd('--config-file', join(d.dir, 'absent.json'), '--validate')
  assert.equal(missing.code, 125)
  assert.match(missing.stderr, /unable to configure the cais daemon with file (\S+absent\.json): open \1: no such file or directory/)
})

test('daemon.json at start and SIGHUP: labels and insecure registries change live, others are named for a restart, a container keeps running, a bad file changes nothing', async (t) => {
  const d = await startDaemon(t, { importBusybox: true })
  const file = join(d.dir, 'daemon.json')
  // The test daemon reads this file (startDaemon gives it an empty one); it sets --log-level itself.
  writeFileSync(file, JSON.stringify({ labels: ['zone=a'] }))
  const info = async (): Promise<{ Labels: string[]; Debug: boolean }> => (await d.client.system.info()) as unknown as { Labels: string[]; Debug: boolean }
  const reload = async (content: string, expect: RegExp): Promise<void> => {
    writeFileSync(file, content)
    const before = d.logs().length
    d.signal('SIGHUP')
    for (let i = 0; i < 100 && !expect.test(d.logs().slice(before)); i++) await new Promise((r) => setTimeout(r, 50))
    assert.match(d.logs().slice(before), expect)
  }
  await d.stop()
  await d.start()
  assert.deepEqual((await info()).Labels, ['zone=a'])
  const { Id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } })
  await d.client.containers.start(Id)

  await reload(JSON.stringify({ labels: ['zone=b', 'tier=web'], 'insecure-registries': ['10.0.0.0/8'] }), /"msg":"configuration reloaded".*"changed":\["labels","insecure-registries"\]/)
  assert.deepEqual((await info()).Labels, ['zone=b', 'tier=web'])
  await reload('{"labels": ["zone=c"', /"msg":"configuration not reloaded"/)
  assert.deepEqual((await info()).Labels, ['zone=b', 'tier=web'], 'a bad file leaves the settings in force')
  await reload(JSON.stringify({ labels: ['zone=b'], 'insecure-registries': ['10.0.0.0/8'], 'certs-dir': '/etc/cais/other-certs.d' }), /"changed":\["labels"\],"needRestart":\["certsDir"\]/)
  assert.equal((await d.client.containers.inspect(Id)).State.Running, true)
})

test('registry-mirrors: Docker Hub pulls try each mirror in order, pass over one that is down, show in info, and change on SIGHUP', async (t) => {
  const reg = await startRegistry(t)
  const dead = await freePort()
  const d = await startDaemon(t, { importBusybox: true })
  const file = join(d.dir, 'daemon.json')
  const pushed = await d.cli('tag', BUSYBOX, `${reg.address}/library/busybox:mirrored`)
  assert.equal(pushed.code, 0, pushed.stderr)
  const push = await d.cli('push', `${reg.address}/library/busybox:mirrored`)
  assert.equal(push.code, 0, push.stderr)

  writeFileSync(file, JSON.stringify({ 'registry-mirrors': [`http://127.0.0.1:${dead}`, `http://${reg.address}/`] }))
  await d.stop()
  await d.start()
  const info = await d.docker('info')
  assert.match(info.stdout, new RegExp(`Registry Mirrors:\\n  http://127\\.0\\.0\\.1:${dead}/\\n  http://${reg.address}/\\n`))

  const pull = await d.docker('pull', 'busybox:mirrored')
  assert.equal(pull.code, 0, pull.stderr)
  assert.match(pull.stdout, /Status: .* for busybox:mirrored/)
  assert.match(d.logs(), new RegExp(`"msg":"registry mirror passed over","mirror":"127\\.0\\.0\\.1:${dead}"`))
  assert.equal((await d.client.images.inspect('busybox:mirrored')).Id, (await d.client.images.inspect(BUSYBOX)).Id)

  // After a reload with the working mirror alone, the dead one is no longer tried. (Pulls never reach the hub here.)
  writeFileSync(file, JSON.stringify({ 'registry-mirrors': [`http://${reg.address}`] }))
  const before = d.logs().length
  d.signal('SIGHUP')
  await waitFor('reload', () => /"changed":\["registry-mirrors"\]/.test(d.logs().slice(before)) || undefined)
  assert.equal((await d.cli('rmi', 'busybox:mirrored')).code, 0)
  const again = await d.docker('pull', 'busybox:mirrored')
  assert.equal(again.code, 0, again.stderr)
  assert.doesNotMatch(d.logs().slice(before), /registry mirror passed over/)
  assert.deepEqual(((await d.client.system.info()) as { RegistryConfig?: { Mirrors?: string[] } }).RegistryConfig?.Mirrors, [`http://${reg.address}/`])

  const refused = await runCommand(caisdBin, ['--config-file', '/dev/null', '--registry-mirror', 'ftp://mirror.example', '--validate'])
  assert.equal(refused.code, 125)
  assert.match(refused.stderr, /^caisd: invalid mirror: unsupported scheme "ftp" in "ftp:\/\/mirror\.example"/)
})

test('container defaults from daemon.json: dns, dns-search, dns-opts, default-ulimits, default-shm-size and no-new-privileges, each overridden by a container of its own', async (t) => {
  const d = await startDaemon(t, { importBusybox: true })
  writeFileSync(
    join(d.dir, 'daemon.json'),
    JSON.stringify({
      dns: ['10.9.9.9'],
      'dns-search': ['example.test'],
      'dns-opts': ['ndots:2'],
      'default-ulimits': { nofile: { Name: 'nofile', Soft: 1111, Hard: 2222 } },
      'default-shm-size': '32m',
      'no-new-privileges': true,
      features: { buildkit: true },
    }),
  )
  await d.stop()
  await d.start()
  assert.match(d.logs(), /"msg":"feature not implemented by caisd; ignored","feature":"buildkit","on":true/)
  const probe = 'cat /etc/resolv.conf; ulimit -n; ulimit -Hn; df -k /dev/shm | tail -n 1; grep NoNewPrivs /proc/self/status'
  const run = await d.docker('run', '--name', 'defaults', '--network', 'none', BUSYBOX, 'sh', '-c', probe)
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /^nameserver 10\.9\.9\.9$/m)
  assert.match(run.stdout, /^search example\.test$/m)
  assert.match(run.stdout, /^options ndots:2$/m)
  assert.match(run.stdout, /^1111\n2222\n/m)
  assert.match(run.stdout, /^shm +32768 /m)
  assert.match(run.stdout, /^NoNewPrivs:\s+1$/m)
  const hc = (await d.client.containers.inspect('defaults')).HostConfig as unknown as { ShmSize: number; Ulimits: unknown }
  assert.equal(hc.ShmSize, 32 * 1024 * 1024)
  assert.deepEqual(hc.Ulimits, [{ Name: 'nofile', Soft: 1111, Hard: 2222 }])

  const own = await d.docker('run', '--rm', '--network', 'none', '--dns', '10.8.8.8', '--ulimit', 'nofile=500:600', '--shm-size', '8m', '--security-opt', 'no-new-privileges=false', BUSYBOX, 'sh', '-c', probe)
  assert.equal(own.code, 0, own.stderr)
  assert.match(own.stdout, /^nameserver 10\.8\.8\.8$/m)
  assert.doesNotMatch(own.stdout, /10\.9\.9\.9/)
  assert.match(own.stdout, /^500\n600\n/m)
  assert.match(own.stdout, /^shm +8192 /m)
  assert.match(own.stdout, /^NoNewPrivs:\s+0$/m)

  for (const [flag, message] of [
    [['--dns', 'resolver'], 'resolver is not an ip address'],
    [['--default-ulimit', 'nofile=9:1'], 'ulimit soft limit must be less than or equal to hard limit: 9 > 1'],
    [['--log-driver', 'gelf'], "logger: no log driver named 'gelf' is registered"],
  ] as const) {
    const r = await runCommand(caisdBin, ['--config-file', '/dev/null', ...flag, '--validate'])
    assert.equal(r.code, 125)
    assert.equal(r.stderr.split('\n')[0], `caisd: ${message}`)
  }
})

test('seccomp-profile: the daemon’s profile filters containers without their own; unconfined and a bad file are handled as Docker’s', async (t) => {
  const d = await startDaemon(t, { importBusybox: true })
  const profile = join(d.dir, 'no-mkdir.json')
  writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }))
  writeFileSync(join(d.dir, 'daemon.json'), JSON.stringify({ 'seccomp-profile': profile }))
  await d.stop()
  await d.start()
  const filtered = await d.docker('run', '--rm', '--network', 'none', BUSYBOX, 'mkdir', '/tmp/made')
  assert.notEqual(filtered.code, 0)
  assert.match(filtered.stderr, /Operation not permitted/)
  const own = await d.docker('run', '--rm', '--network', 'none', '--security-opt', 'seccomp=unconfined', BUSYBOX, 'mkdir', '/tmp/made')
  assert.equal(own.code, 0, own.stderr)
  const builtin = await d.docker('run', '--rm', '--network', 'none', '--security-opt', 'seccomp=builtin', BUSYBOX, 'mkdir', '/tmp/made')
  assert.equal(builtin.code, 0, builtin.stderr)

  const missing = await runCommand(caisdBin, ['--config-file', '/dev/null', '--seccomp-profile', join(d.dir, 'absent.json'), '--validate'])
  assert.equal(missing.code, 125)
  assert.match(missing.stderr, /^caisd: opening seccomp profile \(.*absent\.json\) failed: open \S+absent\.json: no such file or directory/)
  writeFileSync(join(d.dir, 'broken.json'), '{"syscalls": []}')
  const broken = await runCommand(caisdBin, ['--config-file', '/dev/null', '--seccomp-profile', join(d.dir, 'broken.json'), '--validate'])
  assert.match(broken.stderr, /^caisd: Decoding seccomp profile failed: defaultAction is required/)
})

test('iptables: false leaves the firewall alone; a published port is served by the userland proxy; info warns', async (t) => {
  // From the first start: rules an earlier run wrote stay, as dockerd's do.
  const d = await startDaemon(t, { importBusybox: true, args: ['--iptables=false'] })
  const info = await d.docker('info')
  assert.match(info.stderr, /WARNING: iptables is disabled/)
  const run = await d.docker('run', '-d', '--name', 'web', '-p', '127.0.0.1::80', BUSYBOX, 'sh', '-c', 'mkdir -p /www && echo served > /www/index.html && exec httpd -f -p 80 -h /www')
  assert.equal(run.code, 0, run.stderr)
  const port = Number((await d.docker('port', 'web', '80')).stdout.trim().split(':')[1])
  const page = await waitFor('the page through the proxy', () => httpGet(port).catch(() => undefined))
  assert.match(page, /served/)
  const rules = execFileSync('iptables-save', { encoding: 'utf8' })
  assert.doesNotMatch(rules, new RegExp(`${d.chainPrefix}-`), 'no chain of this daemon')
  const file = join(d.dir, 'checked.json')
  writeFileSync(file, JSON.stringify({ iptables: false, ip6tables: false }))
  assert.equal((await runCommand(caisdBin, ['--config-file', file, '--validate'])).stdout, 'configuration OK\n')
  writeFileSync(file, JSON.stringify({ iptables: 'no' }))
  assert.match((await runCommand(caisdBin, ['--config-file', file, '--validate'])).stderr, /iptables must be true or false, not "no"/)
})


test('runtimes and default-runtime: a container runs under the runtime it names, with its runtimeArgs, also after a restart; SIGHUP changes the default', async (t) => {
  const d = await startDaemon(t, { importBusybox: true })
  const calls = join(d.dir, 'runtime-calls')
  const wrapper = join(d.dir, 'logged-runtime')
  writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> ${calls}\nexec /usr/bin/crun "$@"\n`, { mode: 0o755 })
  const file = join(d.dir, 'daemon.json')
  writeFileSync(file, JSON.stringify({ runtimes: { logged: { path: wrapper, runtimeArgs: ['--log-format=json'] } } }))
  await d.stop()
  await d.start()
  const runtimes = JSON.parse((await d.docker('info', '--format', '{{json .Runtimes}}')).stdout) as Record<string, { path: string; runtimeArgs?: string[] }>
  assert.deepEqual(runtimes['logged'], { path: wrapper, runtimeArgs: ['--log-format=json'] })

  const run = await d.docker('run', '--rm', '--network', 'none', '--runtime', 'logged', BUSYBOX, 'echo', 'under the logged runtime')
  assert.equal(run.stdout, 'under the logged runtime\n', run.stderr)
  assert.match(readFileSync(calls, 'utf8'), /--log-format=json create /)
  const unknown = await d.docker('run', '--rm', '--runtime', 'nope', BUSYBOX, 'true')
  assert.match(unknown.stderr, /unknown or invalid runtime name: nope/)

  assert.equal((await d.docker('run', '-d', '--name', 'long', '--network', 'none', '--runtime', 'logged', BUSYBOX, 'sleep', '300')).code, 0)
  await d.stop()
  await d.start()
  writeFileSync(calls, '')
  assert.equal((await d.docker('pause', 'long')).code, 0)
  assert.match(readFileSync(calls, 'utf8'), /pause [0-9a-f]{64}/, 'the next caisd pauses it through its runtime')
  assert.equal((await d.docker('unpause', 'long')).code, 0)

  const before = d.logs().length
  writeFileSync(file, JSON.stringify({ runtimes: { logged: { path: wrapper } }, 'default-runtime': 'logged', 'shutdown-timeout': 3 }))
  d.signal('SIGHUP')
  await waitFor('reload', () => (/"changed":\["runtimes","default-runtime","shutdown-timeout"\]/.test(d.logs().slice(before)) ? true : undefined))
  const created = (await d.docker('create', '--network', 'none', BUSYBOX, 'true')).stdout.trim()
  assert.equal((await d.docker('inspect', '-f', '{{.HostConfig.Runtime}}', created)).stdout.trim(), 'logged')

  for (const [content, message] of [
    [{ runtimes: { runc: { path: '/bin/true' } } }, "runtime name 'runc' is reserved"],
    [{ 'default-runtime': 'nope' }, "specified default runtime 'nope' does not exist"],
  ] as const) {
    writeFileSync(join(d.dir, 'checked.json'), JSON.stringify(content))
    const r = await runCommand(caisdBin, ['--config-file', join(d.dir, 'checked.json'), '--validate'])
    assert.equal(r.stderr.split('\n')[0], `caisd: ${message}`)
  }
})

test('ipv6 on the default bridge: containers get an address in its ULA subnet; fixed-cidr-v6 is checked', async (t) => {
  const d = await startDaemon(t, { importBusybox: true, args: ['--ipv6'] })
  const bridge = JSON.parse((await d.docker('network', 'inspect', 'bridge', '--format', '{{json .}}')).stdout) as { EnableIPv6: boolean; IPAM: { Config: Array<{ Subnet: string; Gateway: string }> } }
  assert.equal(bridge.EnableIPv6, true)
  const v6 = bridge.IPAM.Config.find((c) => c.Subnet.includes(':'))
  assert.match(v6?.Subnet ?? '', /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/)
  const prefix = v6!.Subnet.split('::')[0]!
  const addr = await d.docker('run', '--rm', BUSYBOX, 'ip', '-6', 'addr', 'show', 'eth0')
  assert.equal(addr.code, 0, addr.stderr)
  assert.match(addr.stdout, new RegExp(`inet6 ${prefix}:[0-9a-f:]+/64 scope global`))
  const bad = await runCommand(caisdBin, ['--config-file', '/dev/null', '--fixed-cidr-v6', '10.0.0.0/8', '--validate'])
  assert.equal(bad.code, 125)
  assert.match(bad.stderr, /^caisd: invalid fixed-cidr-v6 10\.0\.0\.0\/8/)
})

test('userland-proxy: false publishes by DNAT alone, loopback included: the page comes through the rule, not through caisd', async (t) => {
  const d = await startDaemon(t, { importBusybox: true, args: ['--userland-proxy=false'] })
  const run = await d.docker('run', '-d', '--name', 'web', '-p', '127.0.0.1::80', BUSYBOX, 'sh', '-c', 'mkdir -p /www && echo hairpin > /www/index.html && exec httpd -f -p 80 -h /www')
  assert.equal(run.code, 0, run.stderr)
  const port = Number((await d.docker('port', 'web', '80')).stdout.trim().split(':')[1])
  const page = await waitFor('the page through DNAT', () => httpGet(port).catch(() => undefined))
  assert.match(page, /hairpin/)
  // The DNAT rule counted the connection: caisd, which only holds the port, would have refused it.
  const counters = execFileSync('iptables', ['-w', '-t', 'nat', '-L', `${d.chainPrefix}-DNAT`, '-n', '-v', '-x'], { encoding: 'utf8' })
  const rule = counters.split('\n').find((l) => l.includes(`dpt:${port}`))
  assert.ok(rule && Number(rule.trim().split(/\s+/)[0]) > 0, counters)
  const bridge = `cst${d.chainPrefix.slice(2)}`
  assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, 'utf8').trim(), '1')
})

test('log-level and debug reload on SIGHUP: debug lines start and stop, info reports it', async (t) => {
  const d = await startDaemon(t, { importBusybox: false, logLevel: false })
  const file = join(d.dir, 'daemon.json')
  const debugLines = (from: number): number => (d.logs().slice(from).match(/"level":"debug","msg":"request"/g) ?? []).length
  // Reloaded when info's Debug says so (at warn, the reload's own line is not logged).
  const reload = async (content: object, debug: boolean): Promise<void> => {
    writeFileSync(file, JSON.stringify(content))
    d.signal('SIGHUP')
    await waitFor('reload', async () => (((await d.client.system.info()) as { Debug?: boolean }).Debug === debug ? true : undefined))
  }
  // A request's line is written after its answer: wait a little before counting what is not there.
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300))
  let mark = d.logs().length
  await d.client.system.info()
  await settle()
  assert.equal(debugLines(mark), 0, 'info level: no request lines')
  await reload({ 'log-level': 'debug' }, true)
  mark = d.logs().length
  await d.client.system.info()
  await waitFor('request lines at debug level', () => (debugLines(mark) > 0 ? true : undefined))
  await reload({ debug: false, 'log-level': 'warn' }, false)
  mark = d.logs().length
  await d.client.system.info()
  await settle()
  assert.equal(debugLines(mark), 0)
})
