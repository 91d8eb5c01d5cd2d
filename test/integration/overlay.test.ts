import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { type TestContext, test } from 'node:test'
import { BUSYBOX, type TestDaemon, startDaemon, waitFor } from '../helpers/daemon.ts'

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' })

/**
 * Two test "hosts": network namespaces of this test joined by a veth pair, 10.233.N.1 and 10.233.N.2. Only
 * these addresses and the containers' own are ever addressed. Removed, with everything in them, afterwards.
 */
function twoHosts(t: TestContext): { names: [string, string]; addrs: [string, string] } {
  const n = process.pid % 200
  const names: [string, string] = [`cais-h1-${process.pid}`, `cais-h2-${process.pid}`]
  const addrs: [string, string] = [`10.233.${n}.1`, `10.233.${n}.2`]
  t.after(() => {
    for (const h of names) {
      try {
        ip('netns', 'delete', h)
      } catch {
        // already gone
      }
    }
  })
  for (const h of names) ip('netns', 'add', h)
  ip('link', 'add', `u1-${process.pid % 10000}`, 'netns', names[0], 'type', 'veth', 'peer', 'name', `u2-${process.pid % 10000}`, 'netns', names[1])
  for (const [i, h] of names.entries()) {
    ip('-n', h, 'link', 'set', 'lo', 'up')
    ip('-n', h, 'addr', 'add', `${addrs[i]}/24`, 'dev', `u${i + 1}-${process.pid % 10000}`)
    ip('-n', h, 'link', 'set', `u${i + 1}-${process.pid % 10000}`, 'up')
  }
  return { names, addrs }
}

test('overlay: containers on two hosts (namespaced daemons) reach each other by IP and by name', async (t) => {
  const { names, addrs } = twoHosts(t)
  const token = ['--overlay-token', `t-${process.pid}`]
  const d1 = await startDaemon(t, { netns: names[0], args: ['--overlay-listen', `${addrs[0]}:7946`, '--overlay-peer', `${addrs[1]}:7946`, ...token] })
  const d2 = await startDaemon(t, { netns: names[1], args: ['--overlay-listen', `${addrs[1]}:7946`, '--overlay-peer', `${addrs[0]}:7946`, ...token] })
  const subnet = `10.234.${process.pid % 200}.0/24`

  const id = (await ok(d1, 'network', 'create', '-d', 'overlay', '--subnet', subnet, 'ov')).trim()
  // The other node learns the network from the control plane.
  const seen = await d2.client.networks.inspect('ov')
  assert.equal(seen.Id, id)
  assert.equal(seen.Driver, 'overlay')
  assert.equal(seen.IPAM.Config[0]?.Subnet, subnet)

  await ok(d1, 'run', '-d', '--name', 'alpha', '--network', 'ov', BUSYBOX, 'sh', '-c', 'mkdir -p /www && echo alpha-page > /www/index.html && exec httpd -f -p 80 -h /www')
  const alphaIp = ((await d1.client.containers.inspect('alpha')).NetworkSettings as { Networks: Record<string, { IPAddress: string }> }).Networks['ov']!.IPAddress
  assert.ok(alphaIp.startsWith(subnet.split('.').slice(0, 3).join('.')), alphaIp)

  await ok(d2, 'run', '-d', '--name', 'beta', '--network', 'ov', BUSYBOX, 'sleep', '300')
  const betaIp = ((await d2.client.containers.inspect('beta')).NetworkSettings as { Networks: Record<string, { IPAddress: string }> }).Networks['ov']!.IPAddress
  assert.notEqual(betaIp, alphaIp, 'the owner hands out each address once, across nodes')

  const get = (target: string): Promise<string> => ok(d2, 'exec', 'beta', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${target} 80`)
  assert.ok(await waitFor('alpha by IP from the other host', async () => (await get(alphaIp).catch(() => '')).includes('alpha-page') || undefined))
  assert.match(await get(alphaIp), /alpha-page/)
  assert.match(await get('alpha'), /alpha-page/, 'by name through the embedded DNS')
  const back = await d1.cli('run', '--rm', '--network', 'ov', BUSYBOX, 'nslookup', 'beta')
  assert.match(back.stdout, new RegExp(`Address: ${betaIp.replaceAll('.', '\\.')}`), back.stderr)

  const peers = (await d1.client.networks.inspect('ov')) as unknown as { Peers: Array<{ IP: string }> }
  assert.deepEqual(peers.Peers.map((p) => p.IP).sort(), [...addrs].sort())

  // Not removable while a node runs a container on it; then gone from both nodes.
  const busy = await d2.cli('network', 'rm', 'ov')
  assert.equal(busy.code, 1)
  assert.match(busy.stderr, /has active endpoints/)
  await ok(d2, 'rm', '-f', 'beta')
  await ok(d1, 'rm', '-f', 'alpha')
  const afterRm = await waitFor('the withdrawals', async () => {
    const n = (await d2.client.networks.inspect('ov')) as unknown as { Peers: unknown[] }
    return n.Peers.length === 1 || undefined
  })
  assert.ok(afterRm)
  await ok(d2, 'network', 'rm', 'ov')
  assert.equal((await d1.cli('network', 'inspect', 'ov')).code, 1, 'removed on the other node too')
})

test('overlay without a cluster: a clear error', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const r = await d.cli('network', 'create', '-d', 'overlay', 'lonely')
  assert.equal(r.code, 1)
  assert.match(r.stderr, /overlay networks need caisd to join a cluster/)
})
