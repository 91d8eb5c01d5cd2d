// cais compose beyond the basics, against real engines: secrets, configs, env_file, volumes_from and resource limits
// inside real containers; up --wait, --scale, --no-deps, --dry-run; the inspection verbs; logs -f that follows
// restarted and recreated containers; --exit-code-from and wait; and the same project on Debian's dockerd.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { dockerdBin, startDockerd } from '../helpers/dockerd.ts'
import { caisBin, runCommand, startDaemon, waitFor } from '../helpers/daemon.ts'

function projectDir(base: string, name: string, files: Record<string, string>): string {
  const dir = join(base, name)
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  return dir
}

const composeOn = (host: string, dir: string, env: NodeJS.ProcessEnv = {}) => (...args: string[]): ReturnType<typeof runCommand> =>
  runCommand(caisBin, ['compose', ...args], { cwd: dir, env: { CAIS_HOST: host, DOCKER_HOST: host, ...env }, timeoutMs: 120_000 })

const APP_PROJECT = `services:
  data:
    image: busybox
    command: ["sh", "-c", "echo seeded > /shared/seed; sleep 300"]
    volumes: [shared:/shared]
    stop_grace_period: 1s
  app:
    image: busybox
    command: ["sleep", "300"]
    env_file: app.env
    secrets: [token, {source: key, target: key.pem, mode: 0400}]
    configs: [{source: conf, target: /etc/app.conf}]
    volumes_from: ["data:ro"]
    mem_limit: 64m
    pids_limit: 50
    stop_grace_period: 1s
    depends_on: [data]
  migrate:
    image: busybox
    command: ["echo", "migrated"]
  web:
    image: busybox
    command: ["sleep", "300"]
    ports: ["127.0.0.1::80"]
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    stop_grace_period: 1s
volumes:
  shared: {}
secrets:
  token: {file: ./token.txt}
  key: {environment: KEY}
configs:
  conf: {content: "x=1"}
`

test('cais compose: secrets, configs, env_file, volumes_from and limits reach the containers; --dry-run, --wait, --scale and the inspection verbs', async (t) => {
  const d = await startDaemon(t)
  const dir = projectDir(d.dir, 'feat', { 'compose.yaml': APP_PROJECT, 'app.env': 'FROM_FILE=yes\n', 'token.txt': 'file-token\n' })
  const compose = composeOn(d.host, dir, { KEY: 'env-key' })

  const dry = await compose('--dry-run', 'up', '-d')
  assert.equal(dry.code, 0, dry.stderr)
  assert.match(dry.stderr, /DRY-RUN MODE - {2}Container feat-app-1 {2}Created/)
  assert.equal((await d.cli('ps', '-aq')).stdout, '', 'a dry run creates nothing')
  assert.doesNotMatch((await d.cli('network', 'ls')).stdout, /feat_default/)

  // --wait: the one-shot migrate exited 0, which counts as done; web is healthy.
  const up = await compose('up', '-d', '--wait')
  assert.equal(up.code, 0, up.stderr)
  assert.match(up.stderr, /Container feat-migrate-1 {2}Exited/)
  assert.match(up.stderr, /Container feat-web-1 {2}Healthy/)

  const inside = await d.cli('exec', 'feat-app-1', 'sh', '-c', 'cat /run/secrets/token /run/secrets/key.pem /etc/app.conf; echo; stat -c %a /run/secrets/key.pem; echo $FROM_FILE; cat /shared/seed; touch /shared/x 2>&1 || echo read-only')
  assert.equal(inside.code, 0, inside.stderr)
  assert.equal(inside.stdout, 'file-token\nenv-keyx=1\n400\nyes\nseeded\ntouch: /shared/x: Read-only file system\nread-only\n')
  assert.equal((await d.cli('inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}', 'feat-app-1')).stdout.trim(), '67108864 50')

  const dataId = (await d.cli('inspect', '-f', '{{.Id}}', 'feat-data-1')).stdout
  const scaled = await compose('up', '-d', '--no-deps', '--scale', 'app=2', 'app')
  assert.equal(scaled.code, 0, scaled.stderr)
  assert.match(scaled.stderr, /Container feat-app-2 {2}Started/)
  assert.equal((await d.cli('inspect', '-f', '{{.Id}}', 'feat-data-1')).stdout, dataId)
  assert.equal((await d.cli('exec', 'feat-app-2', 'cat', '/run/secrets/key.pem')).stdout, 'env-key')

  const ps = await compose('ps', '--format', 'json')
  assert.deepEqual(ps.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { Name: string }).Name).sort(), ['feat-app-1', 'feat-app-2', 'feat-data-1', 'feat-web-1'])
  const port = await compose('port', 'web', '80')
  assert.match(port.stdout, /^127\.0\.0\.1:\d+\n$/)
  assert.match((await compose('top', 'data')).stdout, /feat-data-1\n.*PID[\s\S]*sleep 300/)
  assert.match((await compose('images')).stdout, /feat-app-1 +busybox +latest +[0-9a-f]{12}/)
  assert.match((await compose('ls')).stdout, /feat +running\(4\), exited\(1\) +.*compose\.yaml/)
  const hash = await compose('config', '--hash', 'app')
  assert.equal(hash.stdout.trim(), `app ${(await d.cli('inspect', '-f', '{{index .Config.Labels "com.docker.compose.config-hash"}}', 'feat-app-1')).stdout.trim()}`)
  const cp = await compose('cp', 'app:/etc/app.conf', join(dir, 'copied.conf'))
  assert.equal(cp.code, 0, cp.stderr)
  assert.equal(readFileSync(join(dir, 'copied.conf'), 'utf8'), 'x=1')
  assert.match((await compose('version', '--short')).stdout, /^\d+\.\d+\.\d+\n$/)

  // A failed pull aborts up naming the service, before any container changes.
  writeFileSync(join(dir, 'compose.override.yaml'), 'services:\n  broken:\n    image: 127.0.0.1:9/nothing-here:1\n')
  const broken = await compose('up', '-d')
  assert.equal(broken.code, 1)
  assert.match(broken.stderr, /service "broken": pull of 127\.0\.0\.1:9\/nothing-here:1 failed/)
  assert.equal((await d.cli('inspect', '-f', '{{.Id}} {{.State.Running}}', 'feat-data-1')).stdout, `${dataId.trim()} true\n`)

  const down = await compose('down', '-v', '-t', '1')
  assert.equal(down.code, 0, down.stderr)
  assert.equal((await d.cli('ps', '-aq')).stdout, '')
  assert.doesNotMatch((await d.cli('volume', 'ls', '-q')).stdout, /feat_shared/)
})

test('cais compose: logs -f follows restarted and recreated containers; --exit-code-from; wait', async (t) => {
  const d = await startDaemon(t)
  const dir = projectDir(d.dir, 'follow', {
    '.env': 'ROUND=one\n',
    'compose.yaml': 'services:\n  talker:\n    image: busybox\n    command: ["sh", "-c", "echo round $$ROUND; sleep 300"]\n    environment: {ROUND: "${ROUND}"}\n    stop_grace_period: 1s\n',
  })
  const compose = composeOn(d.host, dir)
  assert.equal((await compose('up', '-d')).code, 0)
  const follower = spawn(caisBin, ['compose', 'logs', '-f'], { cwd: dir, env: { ...process.env, CAIS_HOST: d.host } })
  let out = ''
  let err = ''
  follower.stdout.on('data', (c: Buffer) => (out += c.toString()))
  follower.stderr.on('data', (c: Buffer) => (err += c.toString()))
  const exited = new Promise<number | null>((r) => follower.on('exit', (code) => r(code)))
  t.after(() => follower.kill())
  await waitFor('the first line', () => (out.includes('round one') ? true : undefined))

  assert.equal((await compose('restart', '-t', '1')).code, 0)
  await waitFor('the restarted container\'s line', () => (out.split('round one').length === 3 ? true : undefined), 20_000).catch((e: unknown) => {
    throw new Error(`${String(e)}; logs -f wrote:\n${out}${err}`)
  })
  writeFileSync(join(dir, '.env'), 'ROUND=two\n')
  const recreate = await compose('up', '-d')
  assert.match(recreate.stderr, /Recreate \(environment changed\)/)
  await waitFor('the recreated container\'s line', () => (out.includes('talker-1  | round two') ? true : undefined), 20_000)
  assert.equal((await compose('stop', '-t', '1')).code, 0)
  assert.equal(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 15_000))]), 0, 'logs -f ends once nothing runs')
  assert.equal(out, 'talker-1  | round one\ntalker-1  | round one\ntalker-1  | round two\n')

  const exitDir = projectDir(d.dir, 'exits', {
    'compose.yaml': 'services:\n  job:\n    image: busybox\n    command: ["sh", "-c", "sleep 1; exit 7"]\n  side:\n    image: busybox\n    command: ["sleep", "300"]\n    stop_grace_period: 1s\n',
  })
  const exits = composeOn(d.host, exitDir)
  const r = await exits('up', '--exit-code-from', 'job')
  assert.equal(r.code, 7, r.stderr)
  assert.match(r.stderr, /Aborting on container exit/)
  assert.equal((await d.cli('inspect', '-f', '{{.State.Running}}', 'exits-side-1')).stdout.trim(), 'false')
  assert.equal((await exits('start', 'job')).code, 0)
  const waited = await exits('wait', 'job')
  assert.equal(waited.code, 7)
  assert.equal(waited.stdout, '7\n')
  assert.equal((await exits('down', '-t', '1')).code, 0)
  assert.equal((await compose('down', '-t', '1')).code, 0)
})

test('cais compose watch: sync copies changes in and removes deletions, ignore rules hold, sync+restart restarts', async (t) => {
  const d = await startDaemon(t)
  const dir = projectDir(d.dir, 'watched', {
    'src/index.html': 'v1\n',
    'conf/web.conf': 'a=1\n',
    'compose.yaml': `services:
  web:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
    develop:
      watch:
        - {path: ./src, action: sync, target: /app, ignore: ["*.tmp"]}
        - {path: ./conf, action: sync+restart, target: /etc/web}
`,
  })
  const compose = composeOn(d.host, dir)
  const watcher = spawn(caisBin, ['compose', 'watch'], { cwd: dir, env: { ...process.env, CAIS_HOST: d.host } })
  let err = ''
  watcher.stderr.on('data', (c: Buffer) => (err += c.toString()))
  const exited = new Promise<number | null>((r) => watcher.on('exit', (code) => r(code)))
  t.after(() => watcher.kill('SIGKILL'))
  await waitFor('watch to start', () => (err.includes('Watch enabled') ? true : undefined), 30_000)
  const inWeb = async (...cmd: string[]): Promise<string> => (await d.cli('exec', 'watched-web-1', ...cmd)).stdout

  writeFileSync(join(dir, 'src/index.html'), 'v2\n')
  mkdirSync(join(dir, 'src/nested'))
  writeFileSync(join(dir, 'src/nested/page.txt'), 'nested\n')
  writeFileSync(join(dir, 'src/scratch.tmp'), 'ignored\n')
  await waitFor('the synced files', async () => ((await inWeb('cat', '/app/index.html', '/app/nested/page.txt')) === 'v2\nnested\n' ? true : undefined), 20_000)
  assert.equal((await d.cli('exec', 'watched-web-1', 'ls', '/app/scratch.tmp')).code, 1, 'an ignored file is not synced')
  rmSync(join(dir, 'src/index.html'))
  await waitFor('the deletion', async () => ((await d.cli('exec', 'watched-web-1', 'ls', '/app/index.html')).code === 1 ? true : undefined), 20_000)

  const startedAt = (await d.cli('inspect', '-f', '{{.State.StartedAt}}', 'watched-web-1')).stdout
  writeFileSync(join(dir, 'conf/web.conf'), 'a=2\n')
  await waitFor('the restart', async () => ((await d.cli('inspect', '-f', '{{.State.StartedAt}}', 'watched-web-1')).stdout !== startedAt ? true : undefined), 20_000)
  assert.equal(await inWeb('cat', '/etc/web/web.conf'), 'a=2\n')
  assert.match(err, /Syncing service "web" after \d+ changes were detected/)
  watcher.kill('SIGINT')
  assert.equal(await exited, 0, err)
  assert.equal((await compose('down', '-t', '1')).code, 0)
})

test('cais compose drives Debian\'s dockerd the same way: healthy dependency, secrets, recreation of what changed, down -v', { skip: dockerdBin ? false : 'dockerd is not installed' }, async (t) => {
  const dockerd = await startDockerd(t)
  const dir = projectDir('/tmp', `cais-compose-dockerd-${process.pid}`, {
    '.env': 'GREETING=hello\n',
    'token.txt': 'on-dockerd\n',
    'compose.yaml': `services:
  db:
    image: busybox
    command: ["sleep", "300"]
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    stop_grace_period: 1s
    volumes: [data:/data]
  web:
    image: busybox
    command: ["sh", "-c", "echo $$GREETING; cat /run/secrets/token; sleep 300"]
    environment: {GREETING: "\${GREETING}"}
    secrets: [token]
    depends_on: {db: {condition: service_healthy}}
    stop_grace_period: 1s
volumes: {data: {}}
secrets: {token: {file: ./token.txt}}
`,
  })
  t.after(() => runCommand('rm', ['-rf', dir]))
  const compose = composeOn(dockerd.host, dir)
  const up = await compose('up', '-d')
  assert.equal(up.code, 0, up.stderr)
  assert.match(up.stderr, /Container [a-z0-9-]+-db-1 {2}Healthy[\s\S]*-web-1 {2}Started/)
  const project = dir.split('/').at(-1)!
  await waitFor('web\'s output', async () => ((await compose('logs', 'web')).stdout.includes('on-dockerd') ? true : undefined))
  assert.equal((await compose('logs', '--no-log-prefix', 'web')).stdout, 'hello\non-dockerd\n')
  const dbId = (await dockerd.cli('inspect', '-f', '{{.Id}}', `${project}-db-1`)).stdout
  writeFileSync(join(dir, '.env'), 'GREETING=changed\n')
  const again = await compose('up', '-d')
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stderr, /-web-1 {2}Recreate \(environment changed\)/)
  assert.equal((await dockerd.cli('inspect', '-f', '{{.Id}}', `${project}-db-1`)).stdout, dbId)
  const down = await compose('down', '-v', '-t', '1')
  assert.equal(down.code, 0, down.stderr)
  assert.equal((await dockerd.cli('ps', '-aq')).stdout, '')
  assert.doesNotMatch((await dockerd.cli('volume', 'ls', '-q')).stdout, new RegExp(`${project}_data`))
  assert.doesNotMatch((await dockerd.cli('network', 'ls')).stdout, new RegExp(`${project}_default`))
})
