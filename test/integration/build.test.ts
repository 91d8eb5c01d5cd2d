// Dockerfile builds through `cais build`: the instruction set, the cache, stages, RUN mounts, bad input, and what a
// failed, cancelled or killed build leaves behind (nothing but a cache it can reuse).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { type TestDaemon, caisBin, runCommand, startDaemon, waitFor } from '../helpers/daemon.ts'

/** A build context: files by relative path. */
function context(d: TestDaemon, files: Record<string, string>): string {
  const dir = mkdtempSync(join(d.dir, 'ctx-'))
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  return dir
}

async function build(d: TestDaemon, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await d.cli('build', '--progress', 'plain', ...args)
  return { code: r.code, out: r.stdout, err: r.stderr }
}

async function run(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli('run', '--rm', ...args)
  assert.equal(r.code, 0, r.stderr)
  return r.stdout
}

const ranSteps = (out: string): number => out.match(/ ---> Running in /g)?.length ?? 0
const cachedSteps = (out: string): number => out.match(/ ---> Using cache/g)?.length ?? 0

test('every instruction: config, files, substitution, here-documents, ADD of a local tar and of a URL', async (t) => {
  const d = await startDaemon(t)
  const server = createServer((_req, res) => res.end('from the web\n'))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => server.close())
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/remote.txt`
  const tarDir = context(d, { 'inside/t.txt': 'tarred\n' })
  const ctx = context(d, {
    'a.txt': 'A\n',
    'b.md': 'B\n',
    'dir/x': 'X\n',
    'dir/sub/y': 'Y\n',
    Dockerfile: `# escape=\\
ARG BASE=busybox
FROM \${BASE}
MAINTAINER someone@example.com
ARG FILE=/usr/share/app.tar.gz
ENV NAME="the app" \\
    EMPTY=
ENV STEM=\${FILE##*/} PREFIX=\${FILE%/*} DFLT=\${EMPTY:-dflt} ALT=\${NAME:+set} REPL=\${FILE/share/lib}
LABEL org.example.name="\${NAME}" version=1
WORKDIR /srv
WORKDIR app
COPY *.txt b.md ./files/
COPY dir /copied/
COPY --chown=12:34 --chmod=640 a.txt /owned
ADD t.tar /untarred/
ADD ${url} /web/
RUN <<EOT
set -e
echo "heredoc in $(pwd)" > /heredoc.out
EOT
COPY <<EOF /generated.conf
name=\${NAME}
EOF
RUN ["/bin/sh", "-c", "echo exec-form > /exec.out"]
USER 1000:1000
EXPOSE 8080 53/udp 7000-7001
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD ["true"]
SHELL ["/bin/sh", "-e", "-c"]
ONBUILD RUN echo onbuild
ENTRYPOINT ["/bin/echo"]
CMD ["hello"]
`,
  })
  await runCommand('tar', ['-cf', join(ctx, 't.tar'), '-C', tarDir, 'inside'])
  const r = await build(d, '-t', 'corpus:1', ctx)
  assert.equal(r.code, 0, r.out + r.err)
  const [inspect] = JSON.parse((await d.cli('inspect', 'corpus:1')).stdout) as Array<{ Author: string; Config: Record<string, unknown> }>
  const c = inspect!.Config
  assert.equal(inspect!.Author, 'someone@example.com')
  assert.equal(c['WorkingDir'], '/srv/app')
  assert.equal(c['User'], '1000:1000')
  assert.deepEqual(c['Entrypoint'], ['/bin/echo'])
  assert.deepEqual(c['Cmd'], ['hello'])
  assert.deepEqual(c['Shell'], ['/bin/sh', '-e', '-c'])
  assert.deepEqual(c['OnBuild'], ['RUN echo onbuild'])
  assert.equal(c['StopSignal'], 'SIGTERM')
  assert.deepEqual(c['Volumes'], { '/data': {} })
  assert.deepEqual(Object.keys(c['ExposedPorts'] as object).sort(), ['53/udp', '7000/tcp', '7001/tcp', '8080/tcp'])
  assert.deepEqual(c['Healthcheck'], { Test: ['CMD', 'true'], Interval: 30e9, Timeout: 3e9, Retries: 2 })
  assert.deepEqual(c['Labels'], { 'org.example.name': 'the app', version: '1' })
  const env = c['Env'] as string[]
  for (const e of ['NAME=the app', 'EMPTY=', 'STEM=app.tar.gz', 'PREFIX=/usr/share', 'DFLT=dflt', 'ALT=set', 'REPL=/usr/lib/app.tar.gz']) assert.ok(env.includes(e), `${e} in ${env.join(', ')}`)
  assert.ok(!env.some((e) => e.startsWith('FILE=')), 'ARGs are not in the image')

  const files = await run(d, '--entrypoint', 'sh', '-u', '0', 'corpus:1', '-c',
    'cd /srv/app/files && ls; ls /copied /copied/sub; stat -c "%u:%g %a" /owned; cat /untarred/inside/t.txt /web/remote.txt /heredoc.out /generated.conf /exec.out')
  assert.equal(files, 'a.txt\nb.md\n/copied:\nsub\nx\n\n/copied/sub:\ny\n12:34 640\ntarred\nfrom the web\nheredoc in /srv/app\nname=the app\nexec-form\n')
  assert.equal(await run(d, 'corpus:1'), 'hello\n')

  const child = context(d, { Dockerfile: 'FROM corpus:1\nRUN echo child-step\n' })
  const triggered = await build(d, '-t', 'child:1', child)
  assert.equal(triggered.code, 0, triggered.out + triggered.err)
  assert.match(triggered.out, /# Executing 1 build trigger\n[\s\S]*onbuild\n[\s\S]*child-step/)
  assert.equal(JSON.parse((await d.cli('inspect', '-f', '{{json .Config.OnBuild}}', 'child:1')).stdout), null)
})

test('the cache: an unchanged rebuild runs nothing, a late change rebuilds from there only, and it survives a restart', async (t) => {
  const d = await startDaemon(t)
  const ctx = context(d, {
    'early.txt': 'early\n',
    'late.txt': 'late v1\n',
    Dockerfile: 'FROM busybox\nCOPY early.txt /\nRUN echo step-one > /one\nRUN echo step-two > /two\nCOPY late.txt /\nRUN cat /late.txt > /three\n',
  })
  const first = await build(d, '-t', 'cached:1', ctx)
  assert.equal(first.code, 0, first.err)
  assert.equal(ranSteps(first.out), 3)

  const contexts = (): string[] => readdirSync(join(d.root, 'build', 'contexts')).filter((n) => /^[0-9a-f]{64}$/.test(n))
  const unpacked = contexts()
  const again = await build(d, '-t', 'cached:1', ctx)
  assert.equal([ranSteps(again.out), cachedSteps(again.out)].join(), '0,5')
  assert.deepEqual(contexts(), unpacked, 'the same context is unpacked once')

  // Only the content counts: a new mtime on the same bytes is still a hit.
  writeFileSync(join(ctx, 'early.txt'), 'early\n')
  writeFileSync(join(ctx, 'late.txt'), 'late v2\n')
  const late = await build(d, '-t', 'cached:2', ctx)
  assert.equal([ranSteps(late.out), cachedSteps(late.out)].join(), '1,3', late.out)
  assert.equal(await run(d, 'cached:2', 'cat', '/three'), 'late v2\n')

  await d.stop()
  await d.start()
  const afterRestart = await build(d, ctx)
  assert.equal([ranSteps(afterRestart.out), cachedSteps(afterRestart.out)].join(), '0,5')

  const noCache = await build(d, '--no-cache', ctx)
  assert.equal([ranSteps(noCache.out), cachedSteps(noCache.out)].join(), '3,0')

  const df = await d.client.system.df()
  assert.ok(df.BuildCache.length >= 5, 'the cache shows in system df')
  const pruned = await d.cli('builder', 'prune', '-af')
  assert.equal(pruned.code, 0, pruned.stderr)
  assert.match(pruned.stdout, /Total reclaimed space/)
  const cold = await build(d, ctx)
  assert.equal(ranSteps(cold.out), 3, 'after a prune every step runs again')
  const images = await d.cli('images', '-q')
  assert.ok(images.stdout.trim().split('\n').length <= 4, `intermediate images stay out of the list:\n${images.stdout}`)
})

test('stages: --target, skipped stages, COPY --from a stage, an image and an index, and independent stages in parallel', async (t) => {
  const d = await startDaemon(t)
  // Each of the two stages waits for the other's mark in a shared cache mount: built one after the other, the
  // first would wait out its 10 s and fail.
  const meet = (me: string, other: string): string =>
    `RUN --mount=type=cache,target=/sync,id=meet sh -c 'touch /sync/${me}; i=0; while [ ! -e /sync/${other} ]; do i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.1; done; echo ${me} > /${me}'`
  const ctx = context(d, {
    Dockerfile: `FROM busybox AS never
RUN echo NEVER-RUNS
FROM busybox AS left
${meet('left', 'right')}
FROM busybox AS right
${meet('right', 'left')}
FROM busybox AS final
COPY --from=left /left /got/
COPY --from=right /right /got/
COPY --from=1 /left /got/by-index
COPY --from=busybox /bin/busybox /got/busybox-from-image
FROM final AS extra
RUN echo EXTRA-RUNS
`,
  })
  const r = await build(d, '--target', 'final', '-t', 'staged:1', ctx)
  assert.equal(r.code, 0, r.out + r.err)
  assert.doesNotMatch(r.out, /NEVER-RUNS|EXTRA-RUNS/)
  assert.equal(await run(d, 'staged:1', 'sh', '-c', 'cat /got/left /got/right /got/by-index; test -x /got/busybox-from-image && echo copied'), 'left\nright\nleft\ncopied\n')
  // The output keeps stage order though the stages ran at once.
  assert.ok(r.out.indexOf('echo left') < r.out.indexOf('echo right'))
  const missing = await build(d, '--target', 'nope', ctx)
  assert.notEqual(missing.code, 0)
  assert.match(missing.err, /failed to reach build target nope/)
})

test('RUN --mount: a cache kept between builds, binds from the context and a stage, tmpfs, and a secret found in no layer', async (t) => {
  const d = await startDaemon(t)
  const secretFile = join(d.dir, 'token')
  writeFileSync(secretFile, 'TOP-SECRET-VALUE\n')
  const ctx = context(d, {
    'input/data.txt': 'bound\n',
    Dockerfile: `FROM busybox AS tool
RUN echo from-stage > /made
FROM busybox
ARG ROUND
RUN --mount=type=cache,target=/var/cache/app,sharing=locked echo "$ROUND" >> /var/cache/app/log && cat /var/cache/app/log | wc -l > /cache-lines
RUN --mount=type=bind,source=input,target=/in cat /in/data.txt > /from-context
RUN --mount=type=bind,from=tool,source=/made,target=/tool-made cat /tool-made > /from-stage
RUN --mount=type=tmpfs,target=/scratch sh -c 'echo tmp > /scratch/f && cat /scratch/f > /from-tmpfs'
RUN --mount=type=secret,id=token,required=true sh -c 'test "$(wc -c < /run/secrets/token)" -eq 17 && echo secret-seen > /secret-status'
RUN --mount=type=secret,id=token,env=TOKEN sh -c 'test "\${#TOKEN}" -eq 16 && echo env-seen >> /secret-status'
`,
  })
  for (const round of ['1', '2']) {
    const r = await build(d, '--build-arg', `ROUND=${round}`, '--secret', `id=token,src=${secretFile}`, '-t', `mounts:${round}`, ctx)
    assert.equal(r.code, 0, r.out + r.err)
  }
  const out = await run(d, 'mounts:2', 'sh', '-c', 'cat /cache-lines /from-context /from-stage /from-tmpfs /secret-status; ls -d /var/cache/app /in /tool-made /scratch /run/secrets 2>&1 | grep -c "No such file"')
  assert.equal(out, '2\nbound\nfrom-stage\ntmp\nsecret-seen\nenv-seen\n5\n', 'the cache grew across builds; no mount point stayed in the image')
  const saved = await d.cli('save', '-o', join(d.dir, 'mounts.tar'), 'mounts:2')
  assert.equal(saved.code, 0, saved.stderr)
  const all = readFileSync(join(d.dir, 'mounts.tar'))
  assert.equal(all.includes(Buffer.from('TOP-SECRET-VALUE')), false, 'the secret is in no layer, config or history')
  const history = await d.cli('history', '--no-trunc', 'mounts:2')
  assert.doesNotMatch(history.stdout, /TOP-SECRET/)

  const missingSecret = await build(d, '--no-cache', ctx)
  assert.notEqual(missingSecret.code, 0)
  assert.match(missingSecret.err, /secret token not found/)
  const ssh = await build(d, context(d, { Dockerfile: 'FROM busybox\nRUN --mount=type=ssh true\n' }))
  assert.notEqual(ssh.code, 0)
  assert.match(ssh.err, /type=ssh is not supported/)
})

test('.dockerignore and <Dockerfile>.dockerignore decide what the context holds, with ** and ! exceptions', async (t) => {
  const d = await startDaemon(t)
  const ctx = context(d, {
    '.dockerignore': '**/*.log\nsecrets/\n!secrets/public.txt\nbuild\n',
    'app.js': 'js',
    'x.log': 'log',
    'deep/er/y.log': 'log',
    'secrets/key': 'key',
    'secrets/public.txt': 'public',
    'build/out': 'out',
    'sub/Dockerfile': 'FROM busybox\nCOPY . /ctx/\n',
    'sub/Dockerfile.dockerignore': 'app.js\n',
    Dockerfile: 'FROM busybox\nCOPY . /ctx/\n',
  })
  const r = await build(d, '-t', 'ignored:1', ctx)
  assert.equal(r.code, 0, r.out + r.err)
  const listed = await run(d, 'ignored:1', 'sh', '-c', 'cd /ctx && find . -type f | sort')
  assert.equal(listed, './.dockerignore\n./Dockerfile\n./app.js\n./secrets/public.txt\n./sub/Dockerfile\n./sub/Dockerfile.dockerignore\n')
  const specific = await build(d, '-f', join(ctx, 'sub/Dockerfile'), '-t', 'ignored:2', ctx)
  assert.equal(specific.code, 0, specific.out + specific.err)
  const listed2 = await run(d, 'ignored:2', 'sh', '-c', 'cd /ctx && find . -type f | sort | grep -v Dockerfile')
  assert.equal(listed2, './.dockerignore\n./build/out\n./deep/er/y.log\n./secrets/key\n./secrets/public.txt\n./x.log\n', 'the Dockerfile\'s own ignore file replaces .dockerignore')
  const outside = join(d.dir, 'Outside.Dockerfile')
  writeFileSync(outside, 'FROM busybox\nCOPY . /ctx/\n')
  const fromOutside = await build(d, '-f', outside, '-t', 'ignored:3', context(d, { only: 'o' }))
  assert.equal(fromOutside.code, 0, fromOutside.err)
  assert.equal(await run(d, 'ignored:3', 'ls', '-A', '/ctx'), 'only\n', 'a Dockerfile from outside the context is not part of it')
  const excluded = await build(d, context(d, { '.dockerignore': 'hidden\n', hidden: 'h', Dockerfile: 'FROM busybox\nCOPY hidden /\n' }))
  assert.notEqual(excluded.code, 0)
  assert.match(excluded.err, /Dockerfile:2: COPY failed: file not found in build context or excluded by \.dockerignore: stat hidden/)
})

test('bad input: errors name the file, line and instruction; the daemon and the store carry on', async (t) => {
  const d = await startDaemon(t)
  const cases: Array<[string, RegExp]> = [
    ['FROM busybox\nRUN true\n  FROBNICATE x\n', /dockerfile parse error on line 3: unknown instruction: FROBNICATE \(Dockerfile:3:3\)/],
    ['FROM busybox\nCOPY missing.txt /\n', /Dockerfile:2: COPY failed: file not found in build context or excluded by \.dockerignore: stat missing\.txt/],
    ['FROM busybox\nCOPY ../outside /\n', /Dockerfile:2: COPY: forbidden path outside the build context: \.\.\/outside/],
    ['FROM busybox\nCOPY --bogus=1 a /\n', /Dockerfile:2: COPY: unknown flag: --bogus/],
    ['FROM busybox\nENV\n', /Dockerfile:2: ENV requires at least one argument/],
    ['FROM busybox\nCOPY ${MISSING:?must be given} /\n', /Dockerfile:2: COPY: MISSING: must be given/],
    ['RUN true\n', /no build stage in current context/],
    ['', /cannot be empty/],
    ['FROM busybox\nHEALTHCHECK --interval=soon CMD true\n', /Dockerfile:2: HEALTHCHECK: time: invalid duration "soon"/],
  ]
  for (const [dockerfile, expected] of cases) {
    const r = await build(d, context(d, { Dockerfile: dockerfile }))
    assert.notEqual(r.code, 0, dockerfile)
    assert.match(r.err, expected, dockerfile)
  }
  const none = await build(d, '-f', 'nope.Dockerfile', context(d, {}))
  assert.notEqual(none.code, 0)
  const ok = await build(d, '-t', 'after-errors:1', context(d, { Dockerfile: 'FROM busybox\nRUN echo fine\n' }))
  assert.equal(ok.code, 0, ok.err)
})

/** What a build could leave behind: containers, mounts, and the builder's scratch space. */
function leftovers(d: TestDaemon): { mounts: string[]; scratch: string[]; containers: string[] } {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(d.dir) && !l.includes('/bin/crun'))
  const scratch = readdirSync(join(d.root, 'build', 'tmp'))
  const containers = readdirSync(join(d.root, 'containers')).filter((n) => !n.startsWith('.'))
  return { mounts, scratch, containers }
}

test('a failing RUN stops the build with its code and output and leaves no container, mount or scratch file', async (t) => {
  const d = await startDaemon(t)
  const ctx = context(d, { Dockerfile: 'FROM busybox\nRUN --mount=type=cache,target=/c echo before-failing && exit 7\nRUN echo NEVER\n' })
  const r = await build(d, ctx)
  assert.equal(r.code, 7)
  assert.match(r.out, /before-failing/)
  assert.doesNotMatch(r.out, /NEVER/)
  assert.match(r.err, /The command '\/bin\/sh -c echo before-failing && exit 7' returned a non-zero code: 7/)
  assert.deepEqual(leftovers(d), { mounts: [], scratch: [], containers: [] })
})

test('a client that goes away cancels the build: its RUN container is killed and removed', async (t) => {
  const d = await startDaemon(t)
  const ctx = context(d, { Dockerfile: 'FROM busybox\nRUN echo started && sleep 60\n' })
  const client = spawn(caisBin, ['build', '--progress', 'plain', ctx], { env: { ...process.env, CAIS_HOST: d.host }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  client.stdout.on('data', (b: Buffer) => (out += b.toString()))
  await waitFor('the RUN step', () => (out.includes('started') ? true : undefined), 20_000)
  client.kill('SIGKILL')
  const clean = JSON.stringify({ mounts: [], scratch: [], containers: [] })
  await waitFor('nothing left of the build', () => (JSON.stringify(leftovers(d)) === clean ? true : undefined), 15_000).catch((err: unknown) => {
    throw new Error(`${String(err)}: ${JSON.stringify(leftovers(d))}`)
  })
  const next = await build(d, context(d, { Dockerfile: 'FROM busybox\nRUN echo next\n' }))
  assert.equal(next.code, 0, next.err)
})

test('a daemon killed mid-build restarts with no build container and reuses the steps it finished', async (t) => {
  const d = await startDaemon(t)
  const ctx = context(d, { Dockerfile: 'FROM busybox\nRUN echo done-before > /a\nRUN echo started && sleep 60\n' })
  const client = spawn(caisBin, ['build', '--progress', 'plain', ctx], { env: { ...process.env, CAIS_HOST: d.host }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  client.stdout.on('data', (b: Buffer) => (out += b.toString()))
  await waitFor('the slow step', () => (out.includes('started') ? true : undefined), 20_000)
  await d.kill9()
  client.kill('SIGKILL')
  await d.start()
  assert.equal((await d.cli('ps', '-aq')).stdout, '', 'the build container is gone')
  assert.deepEqual(leftovers(d).scratch, [])
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo done-before > /a\nRUN echo quick\n')
  const again = await build(d, ctx)
  assert.equal(again.code, 0, again.err)
  assert.equal(cachedSteps(again.out), 1, again.out)
})

test('SOURCE_DATE_EPOCH: the same inputs give byte-identical layers and the same image ID', async (t) => {
  const d = await startDaemon(t)
  const ctx = context(d, { 'f.txt': 'content\n', Dockerfile: 'FROM busybox\nCOPY f.txt /\nRUN mkdir -p /made && echo x > /made/y\nENV A=b\n' })
  const ids: string[] = []
  for (let i = 0; i < 2; i++) {
    const r = await runCommand(caisBin, ['build', '-q', '--no-cache', ctx], { env: { CAIS_HOST: d.host, SOURCE_DATE_EPOCH: '1700000000' } })
    assert.equal(r.code, 0, r.stderr)
    ids.push(r.stdout.trim())
  }
  assert.match(ids[0]!, /^sha256:[0-9a-f]{64}$/)
  assert.equal(ids[0], ids[1])
  assert.equal((await d.cli('inspect', '-f', '{{.Created}}', ids[0]!)).stdout.trim(), '2023-11-14T22:13:20Z')
  const plain = await runCommand(caisBin, ['build', '-q', '--no-cache', ctx], { env: { CAIS_HOST: d.host } })
  assert.notEqual(plain.stdout.trim(), ids[0], 'without it the times differ')
})

test('--cache-from: a loaded image with no intermediate images stands in for the steps it shares', async (t) => {
  const d = await startDaemon(t)
  const ctx = context(d, { 'f.txt': 'f\n', Dockerfile: 'FROM busybox\nCOPY f.txt /\nRUN echo expensive > /e\nCMD ["cat", "/e"]\n' })
  assert.equal((await build(d, '-t', 'source:1', ctx)).code, 0)
  const archive = join(d.dir, 'source.tar')
  assert.equal((await d.cli('save', '-o', archive, 'source:1')).code, 0)
  await d.stop()
  const { rmSync } = await import('node:fs')
  rmSync(d.root, { recursive: true, force: true })
  await d.start()
  await d.importBusybox()
  assert.equal((await d.cli('load', '-i', archive)).code, 0)
  const r = await build(d, '--cache-from', 'source:1', '-t', 'rebuilt:1', ctx)
  assert.equal(r.code, 0, r.err)
  assert.equal([ranSteps(r.out), cachedSteps(r.out)].join(), '0,3', r.out)
  assert.equal(await run(d, 'rebuilt:1'), 'expensive\n')
})
