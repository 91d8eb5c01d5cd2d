// What a container sees and what the engine reports about it, as Docker's engine (checked side by side with
// Debian's dockerd 20.10): the init layer, IPv6 off on IPv4-only networks, groups, working directory, exec errors.
import assert from 'node:assert/strict'
import { existsSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { readTar } from '../helpers/archive.ts'
import { BUSYBOX, dockerBin, startDaemon } from '../helpers/daemon.ts'
import { freePort } from '../helpers/registry.ts'

const skip = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

test('/.dockerenv is there, /dev/core only as runc makes it; diff and commit show only what the container changed, a new file as added', { skip }, async (t) => {
  const d = await startDaemon(t)
  const env = await d.docker('run', '--rm', BUSYBOX, 'stat', '-c', '%A %s', '/.dockerenv')
  assert.equal(env.stdout, '-rwxr-xr-x 0\n', env.stderr)
  // As runc: /dev/core only where the kernel has /proc/kcore (crun 1.8 links it always); a host /dev bound over stays as it is.
  const dev = await d.docker('run', '--rm', BUSYBOX, 'ls', '/dev')
  assert.equal(dev.stdout.split('\n').includes('core'), existsSync('/proc/kcore'), dev.stdout)
  assert.ok(dev.stdout.split('\n').includes('stdin'), dev.stdout)
  const started = await d.docker('run', '-d', '--name', 'web', BUSYBOX, 'sleep', '300')
  assert.equal(started.code, 0, started.stderr)
  assert.equal((await d.docker('exec', 'web', 'sh', '-c', 'echo x > /newfile; echo y >> /etc/passwd; mkdir /tmp/d; echo z > /tmp/d/f')).code, 0)
  const diff = await d.docker('diff', 'web')
  assert.deepEqual(diff.stdout.trim().split('\n'), ['C /etc', 'C /etc/passwd', 'A /newfile', 'C /tmp', 'A /tmp/d', 'A /tmp/d/f'])
  const changes = await d.client.containers.changes('web')
  assert.deepEqual(changes.find((c) => c.Path === '/newfile'), { Path: '/newfile', Kind: 1 })

  assert.equal((await d.docker('commit', 'web', 'committed:1')).code, 0)
  const saved = await d.client.images.save(['committed:1'])
  const chunks: Buffer[] = []
  for await (const c of saved as AsyncIterable<Buffer>) chunks.push(c)
  const archive = await readTar(Buffer.concat(chunks))
  const manifest = JSON.parse(archive.get('manifest.json')!.data.toString()) as Array<{ Layers: string[] }>
  const top = await readTar(archive.get(manifest[0]!.Layers.at(-1)!)!.data)
  const names = [...top.keys()].map((n) => n.replace(/\/$/, '')).sort()
  assert.deepEqual(names, ['etc', 'etc/passwd', 'newfile', 'tmp', 'tmp/d', 'tmp/d/f'], 'the committed layer holds no /etc/hosts, hostname, resolv.conf or .dockerenv')
})

test('IPv6 is off in the container unless a network has it or a --sysctl turns it on', { skip }, async (t) => {
  const d = await startDaemon(t)
  const read = async (...args: string[]): Promise<string> => {
    const r = await d.docker('run', '--rm', ...args, BUSYBOX, 'sh', '-c', 'cat /proc/sys/net/ipv6/conf/all/disable_ipv6; ip -6 addr show dev eth0 2>/dev/null | grep -c inet6 || true')
    assert.equal(r.code, 0, r.stderr)
    return r.stdout.replace(/\n/g, ' ').trim()
  }
  assert.equal(await read(), '1 0', 'the default bridge is IPv4 only: no link-local address on eth0')
  assert.equal(await read('--network', 'none'), '1 0')
  assert.equal((await read('--sysctl', 'net.ipv6.conf.all.disable_ipv6=0')).split(' ')[0], '0')
  assert.equal((await d.docker('network', 'create', '--ipv6', '--subnet', 'fd00:cafe:77::/64', 'six')).code, 0)
  assert.equal((await read('--network', 'six')).split(' ')[0], '0')
})

test('a relative working directory is refused; exec as a missing user exits 126 with the reason', { skip }, async (t) => {
  const d = await startDaemon(t)
  const relative = await d.docker('run', '--rm', '-w', 'relative', BUSYBOX, 'pwd')
  assert.equal(relative.code, 125)
  assert.match(relative.stderr, /the working directory 'relative' is invalid, it needs to be an absolute path/)
  assert.equal((await d.docker('run', '--rm', '-w', '/a/../b/', BUSYBOX, 'pwd')).stdout, '/b\n')
  const started = await d.docker('run', '-d', '--name', 'web', BUSYBOX, 'sleep', '300')
  assert.equal(started.code, 0, started.stderr)
  const exec = await d.docker('exec', '-u', 'nosuchuser', 'web', 'id')
  assert.equal(exec.code, 126)
  assert.equal(exec.stdout, 'unable to find user nosuchuser: no matching entries in passwd file\r\n')
  const tty = await d.docker('exec', '-t', '-u', 'nosuchuser', 'web', 'id')
  assert.equal(tty.code, 126)
})

test('sizes: ps -s, inspect -s, container prune and system df count the writable layer', { skip }, async (t) => {
  const d = await startDaemon(t)
  const made = await d.docker('run', '--name', 'writer', BUSYBOX, 'sh', '-c', 'head -c 300000 /dev/zero > /blob')
  assert.equal(made.code, 0, made.stderr)
  const ps = await d.docker('ps', '-a', '-s', '--format', '{{.Names}} {{.Size}}')
  assert.match(ps.stdout, /^writer 30\d(\.\d)?kB \(virtual \d+(\.\d+)?MB\)$/m)
  assert.match((await d.cli('ps', '-a', '-s')).stdout, /SIZE\n.* 30\d(\.\d)?kB \(virtual [\d.]+MB\)$/m)
  const [rw, rootfs] = (await d.docker('inspect', '-s', '-f', '{{.SizeRw}} {{.SizeRootFs}}', 'writer')).stdout.trim().split(' ').map(Number)
  assert.ok(rw! >= 300000 && rw! < 310000 && rootfs! > rw! + 1000000, `${rw} ${rootfs}`)
  assert.match((await d.cli('inspect', '-s', '-f', '{{.SizeRw}}', 'writer')).stdout, /^30\d{4}\n$/)
  const df = await d.client.system.df()
  assert.ok((df.Containers[0]?.SizeRw ?? 0) >= 300000)
  const prune = await d.docker('container', 'prune', '-f')
  assert.equal(prune.code, 0, prune.stderr)
  assert.match(prune.stdout, /Total reclaimed space: 30\d(\.\d)?kB/)
})

test('a container between two runs of its restart policy is not removed without force; system prune -f exits 0', { skip }, async (t) => {
  const d = await startDaemon(t)
  assert.equal((await d.docker('run', '-d', '--name', 'flapper', '--restart', 'always', BUSYBOX, 'sh', '-c', 'sleep 0.3; exit 1')).code, 0)
  // After a few exits the backoff keeps it waiting (Restarting) for longer than the test looks.
  const restarting = async (): Promise<boolean> => (await d.client.containers.inspect('flapper')).State.Restarting
  for (let i = 0; i < 100 && !(await restarting()); i++) await new Promise((r) => setTimeout(r, 50))
  assert.equal(await restarting(), true)
  const rm = await d.docker('rm', 'flapper')
  assert.equal(rm.code, 1)
  assert.match(rm.stderr, /You cannot remove a restarting container [0-9a-f]{64}\. Stop the container before attempting removal or force remove/)
  assert.equal((await d.docker('rm', '-f', 'flapper')).code, 0)
  const prune = await d.docker('system', 'prune', '-f')
  assert.equal(prune.code, 0, prune.stderr)
  assert.match(prune.stdout, /Total reclaimed space/)
})

test('endpoints: --mac-address, --ip as IPAMConfig, auxiliary addresses reserved; --device-cgroup-rule; HostConfig.Runtime', { skip }, async (t) => {
  const d = await startDaemon(t)
  const ok = async (...args: string[]): Promise<string> => {
    const r = await d.docker(...args)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  await ok('network', 'create', '--subnet', '10.239.120.0/24', '--ip-range', '10.239.120.0/29', '--aux-address', 'host1=10.239.120.3', 'aux')
  await ok('run', '-d', '--name', 'fixed', '--network', 'aux', '--ip', '10.239.120.6', '--mac-address', '02:42:0a:00:00:99', BUSYBOX, 'sleep', '300')
  assert.equal(
    (await ok('inspect', '-f', '{{json .NetworkSettings.Networks.aux.IPAMConfig}} {{.NetworkSettings.Networks.aux.MacAddress}} {{.HostConfig.Runtime}}', 'fixed')).trim(),
    '{"IPv4Address":"10.239.120.6"} 02:42:0a:00:00:99 crun',
  )
  assert.match(await ok('exec', 'fixed', 'ip', 'link', 'show', 'eth0'), /link\/ether 02:42:0a:00:00:99/)
  for (let i = 0; i < 4; i++) await ok('run', '-d', '--network', 'aux', BUSYBOX, 'sleep', '300')
  const addresses = (await ok('network', 'inspect', '-f', '{{range .Containers}}{{.IPv4Address}} {{end}}', 'aux')).trim().split(' ').sort()
  assert.deepEqual(addresses, ['10.239.120.2/24', '10.239.120.4/24', '10.239.120.5/24', '10.239.120.6/24', '10.239.120.7/24'], 'the gateway, the aux address and --ip are skipped')
  assert.equal((await ok('network', 'inspect', '-f', '{{json (index .IPAM.Config 0).AuxiliaryAddresses}}', 'aux')).trim(), '{"host1":"10.239.120.3"}')
  const full = await d.docker('run', '--rm', '--network', 'aux', BUSYBOX, 'true')
  assert.equal(full.code, 125)
  assert.match(full.stderr, /no available IPv4 addresses/)

  // A device node the defaults do not allow (10:229, /dev/fuse) opens only with a rule for it.
  const open = 'mknod /tmp/dev c 10 229 && (exec 3</tmp/dev) 2>&1; true'
  assert.match(await ok('run', '--rm', BUSYBOX, 'sh', '-c', open), /Operation not permitted/)
  assert.doesNotMatch(await ok('run', '--rm', '--device-cgroup-rule', 'c 10:229 rwm', BUSYBOX, 'sh', '-c', open), /Operation not permitted/)
  const runtime = await d.docker('run', '--rm', '--runtime', 'nope', BUSYBOX, 'true')
  assert.equal(runtime.code, 125)
  assert.match(runtime.stderr, /unknown or invalid runtime name: nope/)
})

test('load of a corrupt archive: the error comes in the stream and both CLIs print it alone', { skip }, async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const garbage = Buffer.from('garbage'.repeat(600))
  const theirs = await d.dockerWithInput(garbage, 'load')
  const ours = await d.cliWithInput(garbage, 'load')
  assert.equal(theirs.code, 1)
  assert.match(theirs.stderr, /^invalid archive: /)
  assert.equal(ours.code, 1)
  assert.equal(ours.stderr, theirs.stderr)
})

test('images: commit records its parent (inspect, history with IDs and sizes); rmi -f of an image only stopped containers use deletes it; events as Docker sends them', { skip }, async (t) => {
  const d = await startDaemon(t)
  const ok = async (...args: string[]): Promise<string> => {
    const r = await d.docker(...args)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const base = (await ok('inspect', '-f', '{{.Id}}', BUSYBOX)).trim()
  const since = Math.floor(Date.now() / 1000) - 1
  await ok('run', '--name', 'maker', BUSYBOX, 'sh', '-c', 'head -c 100000 /dev/zero > /made')
  const child = (await ok('commit', 'maker', 'child:1')).trim()
  assert.equal((await ok('inspect', '-f', '{{.Parent}}', 'child:1')).trim(), base)
  const history = (await ok('history', '--no-trunc', '--format', '{{.ID}} {{.Size}}', 'child:1')).trim().split('\n')
  assert.equal(history[0], `${child} 100kB`)
  assert.match(history[1]!, new RegExp(`^${base} `))

  await ok('start', '-a', 'maker')
  await ok('rmi', '-f', 'child:1')
  await ok('rmi', '-f', BUSYBOX)
  assert.equal((await ok('images', '-a', '-q')).trim(), '', 'no <none> image is left for the stopped container')
  assert.equal((await d.docker('start', '-a', 'maker')).code, 0, 'the container still runs from its layers')

  const events = await ok('events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=image', '--format', '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}')
  const lines = events.trim().split('\n')
  assert.ok(lines.includes(`tag ${child} child:1`), events)
  assert.ok(lines.includes(`untag ${child} ${child}`), events)
  assert.ok(lines.includes(`delete ${child} ${child}`), events)
  const attach = await ok('events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'event=attach', '--format', '{{.Actor.Attributes.name}}')
  assert.match(attach, /^maker$/m)
})

test('logs --details prints the labels and env the log options name; --network container:X takes X hostname', { skip }, async (t) => {
  const d = await startDaemon(t)
  const run = await d.docker('run', '--name', 'detailed', '--log-opt', 'labels=a,b', '--log-opt', 'env=E,F', '-l', 'a=1', '-l', 'b=2', '-l', 'c=3', '-e', 'E=2', '-e', 'F=x', BUSYBOX, 'echo', 'hello')
  assert.equal(run.code, 0, run.stderr)
  assert.equal((await d.docker('logs', '--details', 'detailed')).stdout, 'E=2,F=x,a=1,b=2 hello\n')
  assert.equal((await d.cli('logs', '--details', 'detailed')).stdout, 'E=2,F=x,a=1,b=2 hello\n')
  assert.match((await d.docker('logs', '--details', '-t', 'detailed')).stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z E=2,F=x,a=1,b=2 hello\n$/)
  assert.equal((await d.docker('run', '--name', 'plain', BUSYBOX, 'echo', 'plain')).code, 0)
  assert.equal((await d.docker('logs', '--details', 'plain')).stdout, ' plain\n')

  assert.equal((await d.docker('run', '-d', '--name', 'host1', '--hostname', 'first-host', BUSYBOX, 'sleep', '300')).code, 0)
  const joined = await d.docker('run', '--rm', '--network', 'container:host1', BUSYBOX, 'sh', '-c', 'hostname; grep -c first-host /etc/hosts')
  assert.equal(joined.stdout, 'first-host\n1\n', joined.stderr)
  const conflict = await d.docker('run', '--rm', '--network', 'container:host1', '--hostname', 'x', BUSYBOX, 'true')
  assert.equal(conflict.code, 125)
  assert.match(conflict.stderr, /conflicting options: hostname and the network mode/)
})

const noIpv6 = existsSync('/proc/net/if_inet6') ? false : 'the host has no IPv6'

test('a port published on no address in particular answers on IPv6 loopback too', { skip: skip || noIpv6 }, async (t) => {
  const d = await startDaemon(t)
  const port = await freePort()
  const run = await d.docker('run', '-d', '-p', `${port}:80`, BUSYBOX, 'sh', '-c', 'mkdir /www && echo six > /www/index.html && exec httpd -f -p 80 -h /www')
  assert.equal(run.code, 0, run.stderr)
  const get = async (host: string): Promise<string | undefined> => {
    const r = await fetch(`http://${host}:${port}/`).catch(() => undefined)
    return r?.ok ? r.text() : undefined
  }
  let v4: string | undefined
  for (let i = 0; i < 50 && v4 === undefined; i++) {
    v4 = await get('127.0.0.1')
    if (v4 === undefined) await new Promise((r) => setTimeout(r, 100))
  }
  assert.equal(v4, 'six\n')
  assert.equal(await get('[::1]'), 'six\n')
  // One bound to an IPv4 address stays there.
  const other = await freePort()
  assert.equal((await d.docker('run', '-d', '-p', `127.0.0.1:${other}:80`, BUSYBOX, 'sleep', '300')).code, 0)
  const refused = await new Promise<boolean>((resolve) => {
    const s = connect({ host: '::1', port: other }, () => {
      s.destroy()
      resolve(false)
    })
    s.on('error', () => resolve(true))
  })
  assert.equal(refused, true)
})

test("a file copied into a created container's volume is there at its start, beside the image's files (copy-up at create)", { skip }, async (t) => {
  const d = await startDaemon(t)
  assert.equal((await d.docker('create', '--name', 'cpv', '-v', 'etcvol:/etc', '-v', '/opt', BUSYBOX, 'sh', '-c', 'ls /etc; cat /opt/f.txt')).code, 0)
  const file = join(d.dir, 'f.txt')
  writeFileSync(file, 'copied\n')
  assert.equal((await d.docker('cp', file, 'cpv:/etc/')).code, 0)
  assert.equal((await d.docker('cp', file, 'cpv:/opt/')).code, 0)
  const run = await d.docker('start', '-a', 'cpv')
  assert.equal(run.code, 0, run.stderr)
  const lines = run.stdout.trim().split('\n')
  for (const name of ['f.txt', 'group', 'passwd']) assert.ok(lines.includes(name), run.stdout)
  assert.equal(lines.at(-1), 'copied')
})

test('legacy links: environment and /etc/hosts as Docker gives them, ps names, inspect, rm --link', { skip }, async (t) => {
  const d = await startDaemon(t)
  const ok = async (...args: string[]): Promise<string> => {
    const r = await d.docker(...args)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  await ok('run', '-d', '--name', 'db', '--expose', '5432', '--expose', '80/udp', '-e', 'SECRET=s', BUSYBOX, 'sleep', '300')
  const ip = (await ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'db')).trim()
  const hostname = (await ok('inspect', '-f', '{{.Config.Hostname}}', 'db')).trim()
  const out = await ok('run', '--rm', '--name', 'app', '--link', 'db:data', BUSYBOX, 'sh', '-c', 'env | grep ^DATA | sort; grep data /etc/hosts')
  // As dockerd 20.10 prints it for the same containers (ports in ascending order, the first one as DATA_PORT).
  assert.equal(
    out,
    [
      'DATA_ENV_SECRET=s',
      'DATA_NAME=/app/data',
      `DATA_PORT=udp://${ip}:80`,
      `DATA_PORT_5432_TCP=tcp://${ip}:5432`,
      `DATA_PORT_5432_TCP_ADDR=${ip}`,
      'DATA_PORT_5432_TCP_PORT=5432',
      'DATA_PORT_5432_TCP_PROTO=tcp',
      `DATA_PORT_80_UDP=udp://${ip}:80`,
      `DATA_PORT_80_UDP_ADDR=${ip}`,
      'DATA_PORT_80_UDP_PORT=80',
      'DATA_PORT_80_UDP_PROTO=udp',
      `${ip}\tdata ${hostname} db`,
      '',
    ].join('\n'),
  )
  await ok('run', '-d', '--name', 'app2', '--link', 'db', BUSYBOX, 'sleep', '300')
  assert.equal((await ok('ps', '--no-trunc', '--filter', 'name=^db$', '--format', '{{.Names}}')).trim(), 'db,app2/db')
  assert.equal((await ok('inspect', '-f', '{{json .HostConfig.Links}}', 'app2')).trim(), '["/db:/app2/db"]')
  await ok('rm', '--link', '/app2/db')
  assert.equal((await ok('inspect', '-f', '{{json .HostConfig.Links}}', 'app2')).trim(), 'null')
  const missing = await d.docker('run', '--rm', '--link', 'nope', BUSYBOX, 'true')
  assert.equal(missing.code, 125)
  assert.match(missing.stderr, /could not get container for nope: No such container: nope/)
  await ok('stop', '-t', '0', 'db')
  await ok('create', '--name', 'app3', '--link', 'db', BUSYBOX, 'true')
  const stopped = await d.docker('start', 'app3')
  assert.equal(stopped.code, 1)
  assert.match(stopped.stderr, /Cannot link to a non running container: \/db AS \/app3\/db/)
})

test("a user's supplementary groups come from the image's /etc/group, its primary group first among them", { skip }, async (t) => {
  const d = await startDaemon(t)
  const made = await d.docker('run', '--name', 'grouper', BUSYBOX, 'sh', '-c', 'echo "wheel:x:10:root,daemon" >> /etc/group && echo "staff:x:50:daemon" >> /etc/group')
  assert.equal(made.code, 0, made.stderr)
  assert.equal((await d.docker('commit', 'grouper', 'grouped:1')).code, 0)
  // What dockerd 20.10 prints for the same image.
  assert.equal((await d.docker('run', '--rm', 'grouped:1', 'id')).stdout, 'uid=0(root) gid=0(root) groups=0(root),10(wheel)\n')
  assert.equal((await d.docker('run', '--rm', '-u', 'daemon', 'grouped:1', 'id')).stdout, 'uid=1(daemon) gid=1(daemon) groups=1(daemon),10(wheel),50(staff)\n')
})
