// Cluster membership on a real etcd (Debian's etcd-server, one member on loopback): two caisd nodes register under
// leases, each lists both (`cais node ls`, the docker CLI's `node ls`, `info`); a node killed with SIGKILL is gone from
// the other's list within its TTL and back when it restarts; with etcd down, containers still run and the node list
// fails naming the store; when etcd returns, the nodes register again.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, caisBin, caisdBin, runCommand, startDaemon, waitFor } from '../helpers/daemon.ts'
import { etcdBin, startEtcd } from '../helpers/etcd.ts'

const TTL = 3
const HEARTBEAT = 1

test('cluster store on etcd: nodes register under leases, a dead node drops out within the TTL, etcd down stops nothing local', { skip: etcdBin ? false : 'etcd is not installed (scripts/setup.sh installs etcd-server)' }, async (t) => {
  const etcd = await startEtcd(t)
  const clusterArgs = (advertise: string): string[] => ['--cluster-store', etcd.url, '--cluster-advertise', advertise, '--cluster-store-opt', `discovery.heartbeat=${HEARTBEAT}`, '--cluster-store-opt', `discovery.ttl=${TTL}`]
  const a = await startDaemon(t, { importBusybox: true, args: clusterArgs('127.0.0.1:7001') })
  const b = await startDaemon(t, { importBusybox: false, args: clusterArgs('127.0.0.1:7002') })
  const [idA, idB] = [(await a.client.system.info()).ID, (await b.client.system.info()).ID]
  assert.notEqual(idA, idB)

  const listed = async (d: typeof a): Promise<string[]> => (await d.client.nodes.list()).map((n) => n.ID).sort()
  await waitFor('both nodes in the list of each', async () => ((await listed(a)).length === 2 && (await listed(b)).length === 2 ? true : undefined))
  assert.deepEqual(await listed(a), [idA, idB].sort())

  const ls = await a.cli('node', 'ls')
  assert.equal(ls.code, 0, ls.stderr)
  assert.match(ls.stdout, /^ID +HOSTNAME +ADDRESS +STATUS +LAST SEEN +ENGINE VERSION\n/)
  assert.match(ls.stdout, new RegExp(`^${idA} \\* .* 127\\.0\\.0\\.1:7001 +Ready +(Less than a second|\\d+ seconds?) ago`, 'm'))
  assert.match(ls.stdout, new RegExp(`^${idB} .* 127\\.0\\.0\\.1:7002 +Ready`, 'm'))
  // The docker CLI reads the same list as swarm nodes.
  const dockerLs = await a.docker('node', 'ls', '--format', '{{.ID}} {{.Status}} {{.Availability}}')
  assert.equal(dockerLs.code, 0, dockerLs.stderr)
  assert.deepEqual(dockerLs.stdout.trim().split('\n').sort(), [`${idA} Ready Active`, `${idB} Ready Active`].sort())
  const info = await a.client.system.info()
  assert.equal(info['ClusterStore'], etcd.url)
  assert.equal(info['ClusterAdvertise'], '127.0.0.1:7001')

  // A node killed outright stops renewing: the other drops it once its lease expires, not before the TTL is near.
  const killedAt = Date.now()
  await b.kill9()
  await waitFor('the dead node to drop out', async () => ((await listed(a)).length === 1 ? true : undefined), (TTL + 3) * 1000)
  const gone = (Date.now() - killedAt) / 1000
  assert.ok(gone <= TTL + 2, `dropped after ${gone} s, TTL ${TTL} s`)
  assert.deepEqual(await listed(a), [idA])
  await b.start()
  await waitFor('the restarted node back in the list', async () => ((await listed(a)).length === 2 ? true : undefined))

  // etcd down: local work goes on; the node list says which store it cannot reach.
  await etcd.kill()
  const run = await a.cli('run', '--rm', '--network', 'none', BUSYBOX, 'echo', 'still here')
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.stdout, 'still here\n')
  const down = await a.cli('node', 'ls')
  assert.equal(down.code, 1)
  assert.match(down.stderr, new RegExp(`cluster store ${etcd.url.replace(/\./g, '\\.')} cannot be reached`))
  assert.equal((await a.client.system.info()).ID, idA, 'info still answers')
  await waitFor('the store to be seen as unreachable', () => (/"msg":"cluster store unreachable; retrying"/.test(a.logs()) ? true : undefined), (TTL + 5) * 1000)

  // etcd back (its leases expired meanwhile): each node registers again under a new lease.
  await etcd.start()
  await waitFor('both nodes registered again', async () => ((await listed(a).catch(() => [])).length === 2 ? true : undefined), (TTL + 10) * 1000)
})

test('cluster store over mutual TLS (kv.cacertfile, kv.certfile, kv.keyfile): a node with a client certificate registers, one without is refused by etcd and says which store it cannot reach', { skip: etcdBin ? false : 'etcd is not installed (scripts/setup.sh installs etcd-server)' }, async (t) => {
  const certs = mkdtempSync('/tmp/cais-test-etcd-tls-')
  t.after(() => rmSync(certs, { recursive: true, force: true }))
  const init = await runCommand(caisBin, ['tls', 'init', '--dir', certs])
  assert.equal(init.code, 0, init.stderr)
  const etcd = await startEtcd(t, { tls: certs })
  const store = (...opts: string[]): string[] => ['--cluster-store', etcd.url, '--cluster-store-opt', `discovery.heartbeat=${HEARTBEAT}`, '--cluster-store-opt', `discovery.ttl=${TTL}`, ...opts.flatMap((o) => ['--cluster-store-opt', o])]
  const ca = `kv.cacertfile=${join(certs, 'ca.pem')}`
  const a = await startDaemon(t, { importBusybox: false, args: [...store(ca, `kv.certfile=${join(certs, 'cert.pem')}`, `kv.keyfile=${join(certs, 'key.pem')}`), '--cluster-advertise', '127.0.0.1:7011'] })
  const idA = (await a.client.system.info()).ID
  await waitFor('the node with a certificate registered', async () => ((await a.client.nodes.list().catch(() => [])).map((n) => n.ID).includes(idA) ? true : undefined))
  const ls = await a.cli('node', 'ls', '--format', '{{.Hostname}} {{.Status}}')
  assert.equal(ls.code, 0, ls.stderr)
  assert.match(ls.stdout, / Ready$/m)

  const b = await startDaemon(t, { importBusybox: false, args: [...store(ca), '--cluster-advertise', '127.0.0.1:7012'] })
  const refused = await b.cli('node', 'ls')
  assert.equal(refused.code, 1, refused.stdout)
  assert.match(refused.stderr, new RegExp(`cluster store ${etcd.url.replace(/\./g, '\\.')} cannot be reached`))
  assert.deepEqual((await a.client.nodes.list()).map((n) => n.ID), [idA], 'the node without a certificate never registered')
})

test('cluster store flags: Docker\'s forms are checked before anything starts', async () => {
  const check = async (args: string[], message: RegExp): Promise<void> => {
    const r = await runCommand(caisdBin, ['--config-file', '/dev/null', ...args, '--validate'])
    assert.equal(r.code, 125, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
    assert.match(r.stderr, message)
  }
  await check(['--cluster-store', 'consul://127.0.0.1:8500', '--cluster-advertise', '127.0.0.1'], /invalid --cluster-store consul:\/\/127\.0\.0\.1:8500: expected etcd:\/\/HOST:PORT/)
  await check(['--cluster-store', 'etcd://127.0.0.1:2379'], /--cluster-store needs --cluster-advertise/)
  await check(['--cluster-advertise', '127.0.0.1'], /--cluster-advertise and --cluster-store-opt need --cluster-store/)
  await check(['--cluster-store', 'etcd://127.0.0.1:2379', '--cluster-advertise', '127.0.0.1', '--cluster-store-opt', 'discovery.ttl=1', '--cluster-store-opt', 'discovery.heartbeat=5'], /discovery\.ttl \(1\) must be greater than discovery\.heartbeat \(5\)/)
  await check(['--cluster-store', 'etcd://127.0.0.1:2379', '--cluster-advertise', '127.0.0.1', '--cluster-store-opt', 'kv.path=/x'], /unsupported --cluster-store-opt kv\.path/)
  const ok = await runCommand(caisdBin, ['--config-file', '/dev/null', '--cluster-store', 'etcd://127.0.0.1:2379,127.0.0.2:2379/team', '--cluster-advertise', '10.0.0.5:2376', '--validate'])
  assert.equal(ok.code, 0, ok.stderr)
})
