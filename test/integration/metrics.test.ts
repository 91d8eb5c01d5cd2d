import assert from 'node:assert/strict'
import { request } from 'node:http'
import { test } from 'node:test'
import { BUSYBOX, caisdBin, runCommand, startDaemon } from '../helpers/daemon.ts'
import { freePort, startRegistry } from '../helpers/registry.ts'

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => (body += c.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }))
    })
      .on('error', reject)
      .end()
  })
}

/** The value of one sample, by its name and labels as Prometheus's text format writes them. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  assert.ok(line, `no sample ${series} in:\n${text.split('\n').filter((l) => l.startsWith(series.split('{')[0]!)).join('\n')}`)
  return Number(line.split(' ')[1])
}

test('--metrics-addr: Prometheus text as dockerd has it; container states, actions, API requests, events and transfers move', async (t) => {
  const port = await freePort()
  const reg = await startRegistry(t)
  const d = await startDaemon(t, { importBusybox: true, args: ['--metrics-addr', `127.0.0.1:${port}`] })
  const url = `http://127.0.0.1:${port}/metrics`
  const first = await get(url)
  assert.equal(first.status, 200)
  assert.match(first.type, /^text\/plain; version=0\.0\.4/)
  assert.match(first.body, /^engine_daemon_engine_info\{daemon_id="[0-9a-f-]{36}",version="[^"]+",kernel="[^"]+",os_type="linux",architecture="[^"]+",graphdriver="overlay2"\} 1$/m)
  assert.equal(sample(first.body, 'engine_daemon_container_states_containers{state="running"}'), 0)
  assert.ok(sample(first.body, 'process_resident_memory_bytes') > 10_000_000)
  const events0 = sample(first.body, 'engine_daemon_events_total')

  const run = await d.cli('run', '-d', '--network', 'none', BUSYBOX, 'sleep', '300')
  assert.equal(run.code, 0, run.stderr)
  await d.cli('tag', BUSYBOX, `${reg.address}/metrics/busybox:1`)
  assert.equal((await d.cli('push', `${reg.address}/metrics/busybox:1`)).code, 0)

  const after = (await get(url)).body
  assert.equal(sample(after, 'engine_daemon_container_states_containers{state="running"}'), 1)
  assert.equal(sample(after, 'engine_daemon_container_actions_seconds_count{action="create"}'), 1)
  assert.equal(sample(after, 'engine_daemon_container_actions_seconds_count{action="start"}'), 1)
  assert.equal(sample(after, 'cais_api_requests_total{method="POST",route="/containers/create",status="201"}'), 1)
  assert.ok(sample(after, 'cais_api_request_duration_seconds_count{method="POST",route="/containers/{id}/start"}') >= 1)
  assert.ok(sample(after, 'engine_daemon_events_total') >= events0 + 3, 'create, start, push')
  assert.equal(sample(after, 'cais_events_total{type="container",action="start"}'), 1)
  const pushed = sample(after, 'cais_image_transfer_bytes_total{direction="push"}')
  assert.ok(pushed > 500_000, `push bytes ${pushed}`)
  assert.equal(sample(after, 'cais_image_transfer_bytes_total{direction="pull"}'), 0)

  // With the image gone, a pull brings the same blobs back.
  assert.equal((await d.cli('rm', '-f', run.stdout.trim())).code, 0)
  assert.equal((await d.cli('rmi', BUSYBOX, `${reg.address}/metrics/busybox:1`)).code, 0)
  assert.equal((await d.cli('pull', `${reg.address}/metrics/busybox:1`)).code, 0)
  const pulled = (await get(url)).body
  assert.equal(sample(pulled, 'cais_image_transfer_bytes_total{direction="pull"}'), pushed)
  assert.equal(sample(pulled, 'engine_daemon_container_states_containers{state="running"}'), 0)
  assert.equal(sample(pulled, 'engine_daemon_container_actions_seconds_count{action="delete"}'), 1)

  assert.equal((await get(`http://127.0.0.1:${port}/other`)).status, 404)
  const refused = await runCommand(caisdBin, ['--config-file', '/dev/null', '--metrics-addr', 'nine', '--validate'])
  assert.equal(refused.code, 125)
  assert.match(refused.stderr, /^caisd: invalid --metrics-addr nine: expected HOST:PORT/)
})
