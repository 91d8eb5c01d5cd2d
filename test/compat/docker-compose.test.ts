// Debian's docker-compose 1.29.2 (docker-py underneath, API 1.38 pinned for compose-spec files) against caisd.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, runCommand, startDaemon, waitFor } from '../helpers/daemon.ts'
import { freePort } from '../helpers/registry.ts'

const composeBin = '/usr/bin/docker-compose'
const skip = existsSync(composeBin) ? false : `Debian's docker-compose is not installed at ${composeBin}`

test('docker-compose 1.29: up -d, ps, logs, exec, restart and down -v of a project with a healthcheck, a volume, a network and a port', { skip }, async (t) => {
  const d = await startDaemon(t)
  const port = await freePort()
  const dir = join(d.dir, 'shop')
  mkdirSync(dir)
  writeFileSync(
    join(dir, 'docker-compose.yml'),
    `version: "3.8"
services:
  db:
    image: ${BUSYBOX}
    command: ["sh", "-c", "echo ready; printf tail-without-newline; exec sleep 300"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
    volumes:
      - data:/data
    networks: [back]
  web:
    image: ${BUSYBOX}
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"]
    depends_on:
      db:
        condition: service_healthy
    ports:
      - "127.0.0.1:${port}:80"
    networks:
      back:
        aliases: [shopfront]
volumes:
  data:
networks:
  back:
`,
  )
  const compose = (...args: string[]) => runCommand(composeBin, ['-p', 'shop', ...args], { env: { DOCKER_HOST: d.host, COMPOSE_INTERACTIVE_NO_CLI: '1' }, timeoutMs: 120_000, cwd: dir })

  const up = await compose('up', '-d')
  assert.equal(up.code, 0, up.stderr)
  const ps = await compose('ps')
  assert.equal(ps.code, 0, ps.stderr)
  assert.match(ps.stdout, /shop_db_1 .*Up \(healthy\)/)
  assert.match(ps.stdout, new RegExp(`shop_web_1 .*Up .*127\\.0\\.0\\.1:${port}->80/tcp`))

  const page = await waitFor('the published port', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined)
    return r?.ok ? r.text() : undefined
  })
  assert.equal(page, 'hello-from-web\n')

  // The network alias and the service name resolve on the project network.
  const lookup = await compose('exec', '-T', 'db', 'nslookup', 'shopfront')
  assert.equal(lookup.code, 0, lookup.stderr + lookup.stdout)
  const web = await d.client.containers.inspect('shop_web_1')
  const address = (web.NetworkSettings.Networks as Record<string, { IPAddress: string }>)['shop_back']!.IPAddress
  assert.ok(lookup.stdout.includes(address), lookup.stdout)

  const logs = await compose('logs', '--no-color', 'db')
  assert.equal(logs.code, 0, logs.stderr)
  assert.match(logs.stdout, /ready/)
  assert.match(logs.stdout, /tail-without-newline/)

  const restart = await compose('restart', 'web')
  assert.equal(restart.code, 0, restart.stderr)
  assert.equal((await d.client.containers.inspect('shop_web_1')).State.Running, true)

  const down = await compose('down', '-v')
  assert.equal(down.code, 0, down.stderr)
  assert.deepEqual(await d.client.containers.list({ all: true }), [])
  assert.deepEqual((await d.client.volumes.list()).Volumes ?? [], [])
  assert.deepEqual((await d.client.networks.list()).map((n) => n.Name).sort(), ['bridge', 'host', 'none'])
})
