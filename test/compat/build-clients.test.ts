// Builds by the clients people use, against caisd: the docker CLI's classic builder (DOCKER_BUILDKIT=0),
// Debian's docker-py and docker-compose 1.29; and an image cais built, saved and loaded into Debian's dockerd.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { type TestDaemon, dockerBin, runCommand, startDaemon } from '../helpers/daemon.ts'
import { dockerdBin, startDockerd } from '../helpers/dockerd.ts'

function context(d: TestDaemon, files: Record<string, string>): string {
  const dir = mkdtempSync(join(d.dir, 'ctx-'))
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  return dir
}

const legacy = (d: TestDaemon, ...args: string[]): ReturnType<typeof runCommand> =>
  runCommand(dockerBin, args, { env: { DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: join(d.dir, 'docker-config') }, timeoutMs: 120_000 })

test('DOCKER_BUILDKIT=0 docker build: context, -f from outside it, build args, tags, --iidfile, and a failing RUN\'s exit code', async (t) => {
  const d = await startDaemon(t)
  const ctx = context(d, { 'app.txt': 'app\n', '.dockerignore': 'junk\n', junk: 'junk' })
  const dockerfile = join(d.dir, 'Outside.Dockerfile')
  writeFileSync(dockerfile, 'FROM busybox\nARG WHO=nobody\nCOPY app.txt /\nRUN echo "built for $WHO" > /who\nCOPY . /ctx/\nCMD ["cat", "/who"]\n')
  const iid = join(d.dir, 'iid')
  const r = await legacy(d, 'build', '-f', dockerfile, '--build-arg', 'WHO=docker', '-t', 'legacy:1', '-t', 'legacy:2', '--iidfile', iid, ctx)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^Sending build context to Docker daemon/)
  assert.match(r.stdout, /Step 4\/6 : RUN echo "built for \$WHO" > \/who\n ---> Running in [0-9a-f]{12}\n/)
  assert.match(r.stdout, /Successfully built [0-9a-f]{12}\nSuccessfully tagged legacy:1\nSuccessfully tagged legacy:2\n$/)
  const id = readFileSync(iid, 'utf8')
  assert.match(id, /^sha256:[0-9a-f]{64}$/)
  assert.equal((await d.docker('inspect', '-f', '{{.Id}}', 'legacy:2')).stdout.trim(), id)
  assert.equal((await d.docker('run', '--rm', 'legacy:1')).stdout, 'built for docker\n')
  const files = await d.docker('run', '--rm', 'legacy:1', 'sh', '-c', 'ls -A /ctx')
  assert.equal(files.stdout, '.dockerignore\napp.txt\n', 'the Dockerfile from outside is not in the context the image sees')

  // The CLI names the outside Dockerfile anew each time and adds that name to .dockerignore, so `COPY .` misses.
  const cached = await legacy(d, 'build', '-f', dockerfile, '--build-arg', 'WHO=docker', ctx)
  assert.equal(cached.stdout.match(/Using cache/g)?.length, 2, cached.stdout)

  const failing = context(d, { Dockerfile: 'FROM busybox\nRUN echo failing-now; exit 3\n' })
  const bad = await legacy(d, 'build', failing)
  assert.equal(bad.code, 3)
  assert.match(bad.stdout, /failing-now/)
  assert.match(bad.stderr, /The command '\/bin\/sh -c echo failing-now; exit 3' returned a non-zero code: 3/)

  const stdinFile = await runCommand(dockerBin, ['build', '-q', '-'], {
    env: { DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: join(d.dir, 'docker-config') },
    input: 'FROM busybox\nRUN echo from-stdin\n',
  })
  assert.equal(stdinFile.code, 0, stdinFile.stderr)
  assert.match(stdinFile.stdout, /^sha256:[0-9a-f]{64}\n$/)
})

const python = '/usr/bin/python3'
const noDockerPy = existsSync('/usr/lib/python3/dist-packages/docker') ? false : "Debian's python3-docker is not installed"

test('docker-py images.build: a tagged image, its log, and BuildError for a failing step', { skip: noDockerPy }, async (t) => {
  const d = await startDaemon(t)
  const ctx = context(d, { Dockerfile: 'FROM busybox\nRUN echo py-step > /py\nLABEL via=docker-py\n' })
  const program = `import docker, json
c = docker.DockerClient(base_url=${JSON.stringify(d.host)})
img, logs = c.images.build(path=${JSON.stringify(ctx)}, tag='py:1', buildargs={'UNUSED': 'x'})
text = ''.join(l.get('stream', '') for l in logs)
try:
    c.images.build(path=${JSON.stringify(ctx)}, dockerfile='Missing.Dockerfile')
    missing = None
except docker.errors.APIError as e:
    missing = e.explanation
import io
try:
    c.images.build(fileobj=io.BytesIO(b'FROM busybox\\nRUN exit 4\\n'))
    failed = None
except docker.errors.BuildError as e:
    failed = e.msg
print(json.dumps({'id': img.id, 'tags': img.tags, 'labels': img.labels, 'text': text, 'missing': missing, 'failed': failed}))`
  const r = await runCommand(python, ['-c', program], { timeoutMs: 120_000 })
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { id: string; tags: string[]; labels: Record<string, string>; text: string; missing: string; failed: string }
  assert.match(out.id, /^sha256:[0-9a-f]{64}$/)
  assert.deepEqual(out.tags, ['py:1'])
  assert.deepEqual(out.labels, { via: 'docker-py' })
  assert.match(out.text, /py-step/)
  assert.match(out.text, /\[Warning\] One or more build-args \[UNUSED\] were not consumed/)
  assert.match(out.missing, /Cannot locate specified Dockerfile: Missing\.Dockerfile/)
  assert.equal(out.failed, "The command '/bin/sh -c exit 4' returned a non-zero code: 4")
})

const noCompose = existsSync('/usr/bin/docker-compose') ? false : "Debian's docker-compose is not installed"

test('docker-compose 1.29 build: a service with build: builds, with args and a target, then comes up', { skip: noCompose }, async (t) => {
  const d = await startDaemon(t)
  const project = `b${process.pid}`
  const dir = context(d, {
    'web/Dockerfile': 'FROM busybox AS base\nARG GREETING\nRUN echo "$GREETING from compose" > /greeting\nFROM base AS final\nCMD ["cat", "/greeting"]\nFROM final AS unused\nRUN exit 1\n',
    'docker-compose.yml': `version: "3.7"
services:
  web:
    build:
      context: ./web
      target: final
      args:
        GREETING: hello
    image: ${project}-web:built
    network_mode: none
`,
  })
  const compose = (...args: string[]): ReturnType<typeof runCommand> =>
    runCommand('/usr/bin/docker-compose', ['-p', project, ...args], { cwd: dir, env: { DOCKER_HOST: d.host, PATH: process.env['PATH'] ?? '' }, timeoutMs: 120_000 })
  const built = await compose('build')
  assert.equal(built.code, 0, built.stdout + built.stderr)
  assert.match(built.stdout + built.stderr, /Successfully tagged b\d+-web:built/)
  const up = await compose('up', '--no-build')
  assert.equal(up.code, 0, up.stdout + up.stderr)
  assert.match(up.stdout, /hello from compose/)
  const down = await compose('down', '--rmi', 'all')
  assert.equal(down.code, 0, down.stderr)
  assert.equal((await d.cli('images', '-q', `${project}-web`)).stdout, '')
})

test('an image cais built, saved and loaded into Debian\'s dockerd runs there the same', { skip: dockerdBin ? false : 'dockerd is not installed' }, async (t) => {
  const d = await startDaemon(t)
  const ctx = context(d, { 'data.txt': 'payload\n', Dockerfile: 'FROM busybox\nCOPY data.txt /srv/\nRUN cp /srv/data.txt /srv/copy && chmod 600 /srv/copy\nWORKDIR /srv\nENV MODE=parity\nCMD ["sh", "-c", "cat copy; stat -c %a copy; echo $MODE; pwd"]\n' })
  const r = await d.cli('build', '-q', '-t', 'parity:1', ctx)
  assert.equal(r.code, 0, r.stderr)
  const expected = (await d.cli('run', '--rm', 'parity:1')).stdout
  assert.equal(expected, 'payload\n600\nparity\n/srv\n')
  const archive = join(d.dir, 'parity.tar')
  assert.equal((await d.cli('save', '-o', archive, 'parity:1')).code, 0)
  const dockerd = await startDockerd(t)
  const loaded = await dockerd.cli('load', '-i', archive)
  assert.equal(loaded.code, 0, loaded.stderr)
  const there = await dockerd.cli('run', '--rm', '--network', 'none', 'parity:1')
  assert.equal(there.code, 0, there.stderr)
  assert.equal(there.stdout, expected)
})
