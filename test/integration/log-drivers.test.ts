import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { type AddressInfo, type Socket, createServer } from 'node:net'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { BUSYBOX, startDaemon, waitFor } from '../helpers/daemon.ts'
import { freePort } from '../helpers/registry.ts'

/** A syslog server on loopback (TCP, or a unix socket) that keeps what it receives. */
async function streamServer(t: TestContext, listen: { port: 0 } | { path: string }): Promise<{ address: string; received: () => string; sockets: Socket[] }> {
  let data = ''
  const sockets: Socket[] = []
  const server = createServer((s) => {
    sockets.push(s)
    s.on('data', (d: Buffer) => (data += d.toString()))
    s.on('error', () => {})
  })
  await new Promise<void>((r) => ('path' in listen ? server.listen(listen.path, r) : server.listen(0, '127.0.0.1', r)))
  t.after(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  const address = 'path' in listen ? `unix://${listen.path}` : `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { address, received: () => data, sockets }
}

test('syslog driver: RFC 5424 over TCP with octet counting, the local layout over UDP and a unix socket; logs still read; a target that is down fails the start', async (t) => {
  const d = await startDaemon(t)
  const tcp = await streamServer(t, { port: 0 })
  const run = await d.docker('run', '--name', 'to-syslog', '--network', 'none', '--log-driver', 'syslog', '--log-opt', `syslog-address=${tcp.address}`, '--log-opt', 'syslog-format=rfc5424', '--log-opt', 'tag={{.Name}}', '--log-opt', 'syslog-facility=local0', BUSYBOX, 'sh', '-c', 'echo to stdout; echo to stderr >&2')
  assert.equal(run.code, 0, run.stderr)
  const frames = await waitFor('two syslog frames', () => {
    const got = [...tcp.received().matchAll(/(\d+) (<\d+>1 [^]*?)(?=\d+ <\d+>1 |$)/g)].map((m) => ({ length: Number(m[1]), message: m[2]! }))
    return got.length >= 2 ? got : undefined
  })
  const host = (await d.client.system.info()).Name
  const pattern = (pri: number, text: string): RegExp => new RegExp(`^<${pri}>1 \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(Z|[+-]\\d\\d:\\d\\d) ${host} to-syslog \\d+ to-syslog - ${text}$`)
  const byText = Object.fromEntries(frames.map((f) => [f.message.endsWith('to stdout') ? 'out' : 'err', f]))
  assert.match(byText['out']!.message, pattern(16 * 8 + 6, 'to stdout'))
  assert.match(byText['err']!.message, pattern(16 * 8 + 3, 'to stderr'))
  for (const f of frames) assert.equal(f.length, Buffer.byteLength(f.message), 'RFC 5425 octet counts')
  const logs = await d.docker('logs', 'to-syslog')
  assert.equal(logs.stdout, 'to stdout\n')
  assert.equal(logs.stderr, 'to stderr\n')

  const udp = createSocket('udp4')
  const datagrams: string[] = []
  udp.on('message', (m) => datagrams.push(m.toString()))
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r))
  t.after(() => udp.close())
  const viaUdp = await d.docker('run', '--rm', '--network', 'none', '--log-driver', 'syslog', '--log-opt', `syslog-address=udp://127.0.0.1:${udp.address().port}`, BUSYBOX, 'echo', 'by datagram')
  assert.equal(viaUdp.code, 0, viaUdp.stderr)
  const datagram = await waitFor('a datagram', () => datagrams[0])
  assert.match(datagram, /^<30>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [0-9a-f]{12}\[\d+\]: by datagram$/)

  const unix = await streamServer(t, { path: join(d.dir, 'syslog.sock') })
  const viaUnix = await d.docker('run', '--rm', '--network', 'none', '--log-driver', 'syslog', '--log-opt', `syslog-address=${unix.address}`, '--log-opt', 'syslog-format=rfc3164', BUSYBOX, 'echo', 'by stream')
  assert.equal(viaUnix.code, 0, viaUnix.stderr)
  await waitFor('a line on the unix socket', () => (/^<30>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [0-9a-f]{12}\[\d+\]: by stream\n$/.test(unix.received()) ? true : undefined))

  const port = await freePort()
  const down = await d.docker('run', '--rm', '--network', 'none', '--log-driver', 'syslog', '--log-opt', `syslog-address=tcp://127.0.0.1:${port}`, BUSYBOX, 'true')
  assert.equal(down.code, 125)
  assert.match(down.stderr, new RegExp(`failed to initialize logging driver: dial tcp 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`))
  const bad = await d.docker('run', '--rm', '--log-driver', 'syslog', '--log-opt', 'syslog-address=ftp://x', BUSYBOX, 'true')
  assert.match(bad.stderr, /unsupported scheme: 'ftp'/)
})

test('syslog mode=non-blocking: a target that stops reading never holds the container up; what does not fit the buffer is dropped and counted', async (t) => {
  const d = await startDaemon(t)
  const stalled = await streamServer(t, { port: 0 })
  const run = await d.docker('run', '-d', '--name', 'chatty', '--network', 'none', '--log-driver', 'syslog', '--log-opt', `syslog-address=${stalled.address}`, '--log-opt', 'mode=non-blocking', '--log-opt', 'max-buffer-size=64k', BUSYBOX, 'sh', '-c', 'yes "a line of forty bytes, give or take: ok" | head -n 300000')
  // The server reads nothing more once the first bytes came: the kernel's buffers fill, then the forwarder's.
  for (const s of stalled.sockets) s.pause()
  assert.equal(run.code, 0, run.stderr)
  assert.equal((await (await d.client.containers.wait('chatty')).result).StatusCode, 0)
  const total = await waitFor('the count of dropped lines', () => /"msg":"syslog: lines dropped \(mode=non-blocking, target slow or away\)".*"dropped":(\d+)/.exec(d.logs())?.[1], 20_000)
  assert.ok(Number(total) > 1000, `${total} lines dropped`)
  assert.equal((await d.docker('logs', '--tail', '1', 'chatty')).stdout, 'a line of forty bytes, give or take: ok\n')
})

test('local driver and the daemon default: log-driver and log-opts from daemon.json; local files are bounded and read back', async (t) => {
  const d = await startDaemon(t, { importBusybox: true })
  writeFileSync(join(d.dir, 'daemon.json'), JSON.stringify({ 'log-driver': 'local', 'log-opts': { 'max-size': '64k', 'max-file': '3' } }))
  await d.stop()
  await d.start()
  assert.equal((await d.client.system.info()).LoggingDriver, 'local')
  // 16,000 lines in bursts of 1,000 (about 50 KB, less than max-size): each rotation is shifted before conmon's
  // next, so nothing is lost between them (a writer faster than caisd's shifts loses the files between).
  const run = await d.docker('run', '--name', 'local-log', '--network', 'none', BUSYBOX, 'sh', '-c', 'for i in $(seq 0 15); do seq $((i*1000+1)) $((i*1000+1000)); sleep 0.25; done')
  assert.equal(run.code, 0, run.stderr)
  const inspect = await d.client.containers.inspect('local-log')
  assert.deepEqual(inspect.HostConfig.LogConfig, { Type: 'local', Config: { 'max-size': '64k', 'max-file': '3' } })
  const logPath = inspect.LogPath
  // local compresses rotated files but the newest, as Docker's.
  await waitFor('rotation and compression', () => (existsSync(`${logPath}.1`) && existsSync(`${logPath}.2.gz`) ? true : undefined))
  const files = readdirSync(join(logPath, '..')).filter((f) => f.startsWith(`${inspect.Id}-json.log`) && !f.endsWith('.held') && !f.endsWith('.tmp'))
  assert.ok(files.length <= 3, `at most max-file files: ${files.join(', ')}`)
  for (const f of files) assert.ok(statSync(join(logPath, '..', f)).size <= 64 * 1024 + 4096, `${f} within max-size`)
  assert.equal((await d.docker('logs', '--tail', '2', 'local-log')).stdout, '15999\n16000\n')
  // The whole log, the compressed file first: one run of numbers, in order, to the last.
  const all = (await d.docker('logs', 'local-log')).stdout.trim().split('\n').map(Number)
  assert.ok(all.length > 2500, `${all.length} lines kept`)
  const gap = all.findIndex((n, i) => i > 0 && n !== all[i - 1]! + 1)
  assert.equal(gap, -1, `no gap and no repeat across the files: ${all.slice(Math.max(0, gap - 2), gap + 2).join(' ')}`)
  assert.equal(all.at(-1), 16_000)
  const own = await d.docker('run', '--rm', '--log-driver', 'json-file', '--log-opt', 'max-buffer-size=1m', BUSYBOX, 'true')
  assert.match(own.stderr, /max-buffer-size option is only supported with 'mode=non-blocking'/)
})

test('syslog driver across a daemon restart: a running container’s lines go on being sent by the next caisd', async (t) => {
  const d = await startDaemon(t)
  const tcp = await streamServer(t, { port: 0 })
  const run = await d.docker('run', '-d', '--network', 'none', '--log-driver', 'syslog', '--log-opt', `syslog-address=${tcp.address}`, BUSYBOX, 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done')
  assert.equal(run.code, 0, run.stderr)
  await waitFor('ticks', () => (/tick 3\n/.test(tcp.received()) ? true : undefined))
  await d.stop()
  const before = tcp.received().length
  await d.start()
  const after = await waitFor('ticks from the next caisd', () => /tick (\d+)\n/.exec(tcp.received().slice(before))?.[1])
  assert.ok(Number(after) > 3)
})

test('syslog driver: a target that drops the connection is dialled again, and lines go on arriving', async (t) => {
  const d = await startDaemon(t)
  const tcp = await streamServer(t, { port: 0 })
  const run = await d.docker('run', '-d', '--network', 'none', '--log-driver', 'syslog', '--log-opt', `syslog-address=${tcp.address}`, BUSYBOX, 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done')
  assert.equal(run.code, 0, run.stderr)
  await waitFor('ticks', () => (/tick 3\n/.test(tcp.received()) ? true : undefined))
  for (const s of tcp.sockets.splice(0)) s.destroy()
  const before = tcp.received().length
  await waitFor('ticks on a new connection', () => (tcp.sockets.length > 0 && /tick \d+\n/.test(tcp.received().slice(before)) ? true : undefined))
  assert.match(d.logs(), /"msg":"syslog target lost; dialling again"/)
})
