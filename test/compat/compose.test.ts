// cais compose against a real caisd: up with a build and a healthy dependency, convergence that recreates only what
// changed, logs and ps, down -v leaving nothing; and projects shared with Debian's docker-compose 1.29 both ways.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { type TestDaemon, caisBin, runCommand, startDaemon } from '../helpers/daemon.ts'

function projectDir(d: TestDaemon, name: string, files: Record<string, string>): string {
  const dir = join(d.dir, name)
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  return dir
}

const compose = (d: TestDaemon, dir: string, ...args: string[]): ReturnType<typeof runCommand> =>
  runCommand(caisBin, ['compose', ...args], { cwd: dir, env: { CAIS_HOST: d.host, DOCKER_HOST: d.host }, timeoutMs: 120_000 })

test('cais compose: up -d builds, waits for a healthy dependency, converges only what changed, and down -v leaves nothing', async (t) => {
  const d = await startDaemon(t)
  const dir = projectDir(d, 'shop', {
    '.env': 'GREETING=from-dotenv\n',
    'web/Dockerfile': 'FROM busybox\nCOPY page /page\nCMD ["sh", "-c", "cat /page; echo \\"$GREETING\\"; sleep 300"]\n',
    'web/page': 'built page\n',
    'compose.yaml': `services:
  db:
    image: busybox
    command: ["sh", "-c", "echo db ready; sleep 300"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD-SHELL", "sleep 1"]
      interval: 1s
      timeout: 3s
    volumes:
      - data:/data
  web:
    build: ./web
    stop_grace_period: 1s
    environment:
      GREETING: \${GREETING}
    depends_on:
      db:
        condition: service_healthy
    ports:
      - "127.0.0.1::80"
volumes:
  data:
`,
  })
  const since = String(Math.floor(Date.now() / 1000) - 1)
  const up = await compose(d, dir, 'up', '-d')
  assert.equal(up.code, 0, up.stderr)
  assert.match(up.stderr, /Network shop_default {2}Created/)
  assert.match(up.stderr, /Volume "shop_data" {2}Created/)
  assert.match(up.stderr, /Container shop-db-1 {2}Healthy[\s\S]*Container shop-web-1 {2}Started/)

  // From the events: web started only after db was healthy.
  const events = await d.docker('events', '--since', since, '--until', String(Math.floor(Date.now() / 1000) + 1), '--format', '{{.Action}} {{.Actor.Attributes.name}}')
  const lines = events.stdout.split('\n')
  const healthy = lines.indexOf('health_status: healthy shop-db-1')
  const webStart = lines.indexOf('start shop-web-1')
  assert.ok(healthy >= 0 && webStart > healthy, events.stdout)

  const ps = await compose(d, dir, 'ps', '--format', 'json')
  const rows = ps.stdout.trim().split('\n').map((l) => JSON.parse(l) as { Name: string; Service: string; State: string })
  assert.deepEqual(rows.map((r) => [r.Name, r.Service, r.State]).sort(), [['shop-db-1', 'db', 'running'], ['shop-web-1', 'web', 'running']])
  const exec = await compose(d, dir, 'exec', '-T', 'db', 'sh', '-c', 'echo "inside $(hostname)" && ls -d /data')
  assert.equal(exec.code, 0, exec.stderr)
  assert.match(exec.stdout, /^inside [0-9a-f]{12}\n\/data\n$/)
  const notRunning = await compose(d, dir, 'exec', '-T', 'nope', 'true')
  assert.equal(notRunning.code, 1)
  assert.match(notRunning.stderr, /service "nope" is not running/)
  const logs = await compose(d, dir, 'logs', 'web')
  assert.equal(logs.stdout, 'web-1  | built page\nweb-1  | from-dotenv\n')
  const labels = JSON.parse((await d.cli('inspect', '-f', '{{json .Config.Labels}}', 'shop-web-1')).stdout) as Record<string, string>
  assert.equal(labels['com.docker.compose.project'], 'shop')
  assert.equal(labels['com.docker.compose.service'], 'web')
  assert.equal(labels['com.docker.compose.container-number'], '1')
  assert.equal(labels['com.docker.compose.oneoff'], 'False')
  assert.match(labels['com.docker.compose.config-hash']!, /^[0-9a-f]{64}$/)

  const webId = (await d.cli('inspect', '-f', '{{.Id}}', 'shop-web-1')).stdout
  const dbId = (await d.cli('inspect', '-f', '{{.Id}}', 'shop-db-1')).stdout
  const again = await compose(d, dir, 'up', '-d')
  assert.equal(again.code, 0, again.stderr)
  assert.doesNotMatch(again.stderr, /Recreate|Creating/)
  assert.equal((await d.cli('inspect', '-f', '{{.Id}}', 'shop-web-1')).stdout, webId, 'nothing changed, nothing recreated')

  writeFileSync(join(dir, '.env'), 'GREETING=changed\n')
  const changed = await compose(d, dir, 'up', '-d')
  assert.equal(changed.code, 0, changed.stderr)
  assert.match(changed.stderr, /Container shop-web-1 {2}Recreate \(environment changed\)/)
  assert.notEqual((await d.cli('inspect', '-f', '{{.Id}}', 'shop-web-1')).stdout, webId)
  assert.equal((await d.cli('inspect', '-f', '{{.Id}}', 'shop-db-1')).stdout, dbId, 'the unchanged service keeps its container')

  const down = await compose(d, dir, 'down', '-v')
  assert.equal(down.code, 0, down.stderr)
  assert.equal((await d.cli('ps', '-aq')).stdout, '')
  assert.doesNotMatch((await d.cli('network', 'ls')).stdout, /shop_default/)
  assert.doesNotMatch((await d.cli('volume', 'ls', '-q')).stdout, /shop_data/)
})

test('cais compose: bad input exits 1 with the file, line and column or the attribute, and creates nothing', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const yaml = projectDir(d, 'bad1', { 'compose.yaml': 'services:\n  web:\n    image: busybox\n    image: again\n' })
  const dup = await compose(d, yaml, 'up', '-d')
  assert.equal(dup.code, 1)
  assert.match(dup.stderr, /compose\.yaml:4:5: Map keys must be unique/)
  const missing = await compose(d, projectDir(d, 'bad2', { 'compose.yaml': 'services:\n  web:\n    image: ${IMG:?set IMG}\n' }), 'config')
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /required variable IMG is missing a value: set IMG/)
  const none = await compose(d, projectDir(d, 'bad3', { 'readme.txt': 'no compose file here' }), 'ps')
  assert.equal(none.code, 1)
  assert.match(none.stderr, /no configuration file provided: not found/)
  assert.equal((await d.cli('network', 'ls', '-q', '--filter', 'label=com.docker.compose.project')).stdout, '')
})

const composeBin = '/usr/bin/docker-compose'

test('interop: a project cais compose made is listed and removed by docker-compose 1.29, and the reverse', { skip: existsSync(composeBin) ? false : 'docker-compose is not installed' }, async (t) => {
  const d = await startDaemon(t)
  const dir = projectDir(d, 'mixed', {
    'docker-compose.yml': 'version: "3.7"\nservices:\n  one:\n    image: busybox\n    command: sleep 300\n  two:\n    image: busybox\n    command: sleep 300\n    depends_on: [one]\n',
  })
  const theirs = (...args: string[]): ReturnType<typeof runCommand> =>
    runCommand(composeBin, args, { cwd: dir, env: { DOCKER_HOST: d.host, PATH: process.env['PATH'] ?? '' }, timeoutMs: 120_000 })

  assert.equal((await compose(d, dir, 'up', '-d')).code, 0)
  const listed = await theirs('ps')
  assert.equal(listed.code, 0, listed.stderr)
  assert.match(listed.stdout, /mixed-one-1 .* Up/)
  assert.match(listed.stdout, /mixed-two-1 .* Up/)
  const removed = await theirs('down', '-t', '1')
  assert.equal(removed.code, 0, removed.stderr)
  assert.equal((await d.cli('ps', '-aq')).stdout, '')

  assert.equal((await theirs('up', '-d')).code, 0)
  const ours = await compose(d, dir, 'ps')
  assert.match(ours.stdout, /mixed_one_1 +busybox +"sleep 300" +one +Up/)
  assert.match(ours.stdout, /mixed_two_1 +busybox +"sleep 300" +two +Up/)
  const down = await compose(d, dir, 'down', '-t', '1')
  assert.equal(down.code, 0, down.stderr)
  assert.equal((await d.cli('ps', '-aq')).stdout, '')
  assert.doesNotMatch((await d.cli('network', 'ls')).stdout, /mixed_default/)
})

test('cais compose: attached up prints each container\'s output until they stop; stop, start and rm; the plugin metadata', async (t) => {
  const d = await startDaemon(t)
  const dir = projectDir(d, 'attached', {
    'compose.yaml': 'services:\n  a:\n    image: busybox\n    command: ["sh", "-c", "echo hello from a; sleep 1; echo bye"]\n  b:\n    image: busybox\n    command: ["sh", "-c", "echo b says hi; exit 3"]\n',
  })
  const up = await compose(d, dir, 'up')
  assert.equal(up.code, 0, up.stderr)
  for (const line of ['attached-a-1  | hello from a', 'attached-a-1  | bye', 'attached-b-1  | b says hi', 'attached-b-1 exited with code 3', 'attached-a-1 exited with code 0']) {
    assert.ok(up.stdout.split('\n').includes(line), `${line} in:\n${up.stdout}`)
  }
  const started = await compose(d, dir, 'start', 'a')
  assert.equal(started.code, 0, started.stderr)
  assert.match(started.stderr, /Container attached-a-1 {2}Started/)
  assert.equal((await d.cli('inspect', '-f', '{{.State.Running}}', 'attached-a-1')).stdout.trim(), 'true')
  assert.equal((await compose(d, dir, 'stop')).code, 0)
  assert.equal((await d.cli('inspect', '-f', '{{.State.Running}}', 'attached-a-1')).stdout.trim(), 'false')
  const rm = await compose(d, dir, 'rm', '-f')
  assert.equal(rm.code, 0, rm.stderr)
  assert.equal((await d.cli('ps', '-aq')).stdout, '')
  const meta = await compose(d, dir, 'docker-cli-plugin-metadata')
  assert.equal((JSON.parse(meta.stdout) as { SchemaVersion: string }).SchemaVersion, '0.1.0')
})

test('cais compose run: dependencies come up first, a one-off container runs the command with the exit code, --rm removes it', async (t) => {
  const d = await startDaemon(t)
  const dir = projectDir(d, 'oneoff', {
    'compose.yaml': `services:
  db:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
  tool:
    image: busybox
    depends_on: [db]
    environment: { MODE: base }
    command: ["echo", "default command"]
`,
  })
  const r = await compose(d, dir, 'run', '--rm', '-T', '-e', 'EXTRA=1', 'tool', 'sh', '-c', 'echo "$MODE $EXTRA"; exit 4')
  assert.equal(r.code, 4, r.stderr)
  assert.equal(r.stdout, 'base 1\n')
  assert.match(r.stderr, /Container oneoff-db-1 {2}Started/)
  assert.equal((await d.cli('inspect', '-f', '{{.State.Running}}', 'oneoff-db-1')).stdout.trim(), 'true')
  const left = await d.cli('ps', '-a', '--filter', 'label=com.docker.compose.oneoff=True', '-q')
  assert.equal(left.stdout, '', '--rm removed the one-off container')
  const kept = await compose(d, dir, 'run', '-T', '--name', 'kept-run', 'tool')
  assert.equal(kept.code, 0, kept.stderr)
  assert.equal(kept.stdout, 'default command\n')
  assert.equal((await d.cli('inspect', '-f', '{{index .Config.Labels "com.docker.compose.oneoff"}}', 'kept-run')).stdout.trim(), 'True')
  const ps = await compose(d, dir, 'ps', '-a', '--format', 'json')
  assert.doesNotMatch(ps.stdout, /kept-run/, 'ps leaves one-off containers out')
  const down = await compose(d, dir, 'down', '-t', '1')
  assert.equal(down.code, 0, down.stderr)
  assert.equal((await d.cli('ps', '-aq')).stdout, '', 'down removes one-off containers too')
})

test('as a docker CLI plugin, bin/docker-compose makes `docker compose` run cais compose', async (t) => {
  const d = await startDaemon(t)
  const { symlinkSync } = await import('node:fs')
  const config = join(d.dir, 'plugin-config')
  mkdirSync(join(config, 'cli-plugins'), { recursive: true })
  symlinkSync(join(caisBin, '..', 'docker-compose'), join(config, 'cli-plugins', 'docker-compose'))
  const dir = projectDir(d, 'plugged', { 'compose.yaml': 'services:\n  web:\n    image: busybox\n    command: ["sleep", "300"]\n    stop_grace_period: 1s\n' })
  const docker = (...args: string[]): ReturnType<typeof runCommand> => runCommand('/usr/local/bin/docker', args, { cwd: dir, env: { DOCKER_HOST: d.host, DOCKER_CONFIG: config }, timeoutMs: 60_000 })
  const help = await docker('--help')
  assert.match(help.stdout, /compose\*? +Docker Compose, by cais/)
  const up = await docker('compose', 'up', '-d')
  assert.equal(up.code, 0, up.stderr)
  const ps = await docker('compose', 'ps', '--format', 'json')
  assert.equal((JSON.parse(ps.stdout.trim()) as { Name: string }).Name, 'plugged-web-1')
  assert.equal((await docker('compose', 'down', '-t', '1')).code, 0)
  assert.equal((await d.cli('ps', '-aq')).stdout, '')
})
