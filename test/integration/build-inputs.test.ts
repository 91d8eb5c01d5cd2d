// Where a build's context and Dockerfile come from (a directory, stdin, a URL, a git repository; plain, bzip2 or xz),
// how `cais build` shows it (plain, tty, quiet) and the flags that shape the result; and /build/cancel.
import assert from 'node:assert/strict'
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { type TestDaemon, runCommand, startDaemon, waitFor } from '../helpers/daemon.ts'
import { makeTar } from '../helpers/archive.ts'
import { raw } from '../helpers/raw.ts'
import { startRegistry } from '../helpers/registry.ts'

function context(d: TestDaemon, files: Record<string, string>): string {
  const dir = mkdtempSync(join(d.dir, 'ctx-'))
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  return dir
}

async function run(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli('run', '--rm', ...args)
  assert.equal(r.code, 0, r.stderr)
  return r.stdout
}

test('cais build: a Dockerfile or a tar on stdin, -f -, -q, --iidfile, --label, and the tty view', async (t) => {
  const d = await startDaemon(t)
  const fromStdin = await d.cliWithInput('FROM busybox\nRUN echo stdin-dockerfile > /s\n', 'build', '-q', '-t', 'stdin:1', '-')
  assert.equal(fromStdin.code, 0, fromStdin.stderr)
  assert.match(fromStdin.stdout, /^sha256:[0-9a-f]{64}\n$/)
  assert.equal(await run(d, 'stdin:1', 'cat', '/s'), 'stdin-dockerfile\n')

  const ctx = context(d, { 'f.txt': 'from the tar\n', Dockerfile: 'FROM busybox\nCOPY f.txt /\n' })
  const tar = join(d.dir, 'ctx.tar')
  await runCommand('tar', ['-cf', tar, '-C', ctx, '.'])
  const tarOnStdin = await d.cliWithInput(readFileSync(tar), 'build', '-t', 'stdin:2', '-')
  assert.equal(tarOnStdin.code, 0, tarOnStdin.stderr)
  assert.equal(await run(d, 'stdin:2', 'cat', '/f.txt'), 'from the tar\n')

  const iid = join(d.dir, 'iid')
  const dashF = await d.cliWithInput('FROM busybox\nCOPY f.txt /copied\n', 'build', '-f', '-', '--label', 'team=build', '--label', 'tier=', '--iidfile', iid, '-t', 'stdin:3', ctx)
  assert.equal(dashF.code, 0, dashF.stderr)
  assert.deepEqual(JSON.parse((await d.cli('inspect', '-f', '{{json .Config.Labels}}', 'stdin:3')).stdout), { team: 'build', tier: '' })
  assert.equal(readFileSync(iid, 'utf8'), (await d.cli('inspect', '-f', '{{.Id}}', 'stdin:3')).stdout.trim())
  assert.equal(await run(d, 'stdin:3', 'cat', '/copied'), 'from the tar\n')

  const tty = await d.cli('build', '--progress', 'tty', context(d, { Dockerfile: 'FROM busybox\nRUN echo one && echo two\nENV X=1\n' }))
  assert.equal(tty.code, 0, tty.stderr)
  assert.match(tty.stderr, / => \[2\/3\] RUN echo one && echo two {2}\d+\.\ds\n/)
  assert.ok(tty.stderr.includes('\x1b[2m #  two\x1b[0m'), 'the running step\'s output, dimmed, under it')
  assert.match(tty.stderr, /Successfully built sha256:[0-9a-f]{64}/)

  const bad = await d.cli('build', '--progress', 'fancy', ctx)
  assert.notEqual(bad.code, 0)
  assert.match(bad.stderr, /invalid argument "fancy" for "--progress" flag/)
})

test('POST /build: gzip, bzip2 and xz contexts; a remote tar, Dockerfile or git repository; /build/cancel by build ID', async (t) => {
  const d = await startDaemon(t)
  const ctx = context(d, { 'c.txt': 'compressed\n', Dockerfile: 'FROM busybox\nCOPY c.txt /\n' })
  for (const [flag, name] of [['-z', 'gz'], ['-j', 'bz2'], ['-J', 'xz']] as const) {
    const file = join(d.dir, `ctx.tar.${name}`)
    await runCommand('tar', [flag, '-cf', file, '-C', ctx, '.'])
    const messages = await d.client.images.build(createReadStream(file), { t: `comp:${name}` })
    const all: string[] = []
    for await (const m of messages) {
      assert.equal(m.error, undefined, m.error)
      all.push(m.stream ?? '')
    }
    assert.match(all.join(''), new RegExp(`Successfully tagged comp:${name}`))
    assert.equal(await run(d, `comp:${name}`, 'cat', '/c.txt'), 'compressed\n')
  }

  const tarFile = join(d.dir, 'remote.tar')
  await runCommand('tar', ['-cf', tarFile, '-C', ctx, '.'])
  const server = createServer((req, res) => {
    if (req.url === '/ctx.tar') createReadStream(tarFile).pipe(res)
    else if (req.url === '/Dockerfile') res.end('FROM busybox\nRUN echo remote-dockerfile > /r\n')
    else res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => server.close())
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const remoteTar = await raw(d.socket, 'POST', `/v1.50/build?t=remote:1&remote=${encodeURIComponent(`${base}/ctx.tar`)}`, '')
  assert.equal(remoteTar.status, 200, remoteTar.body)
  assert.match(remoteTar.body, /Successfully tagged remote:1/)
  assert.equal(await run(d, 'remote:1', 'cat', '/c.txt'), 'compressed\n')
  const remoteDockerfile = await raw(d.socket, 'POST', `/v1.50/build?t=remote:2&remote=${encodeURIComponent(`${base}/Dockerfile`)}`, '')
  assert.match(remoteDockerfile.body, /Successfully tagged remote:2/)
  assert.equal(await run(d, 'remote:2', 'cat', '/r'), 'remote-dockerfile\n')
  const missing = await raw(d.socket, 'POST', `/v1.50/build?remote=${encodeURIComponent(`${base}/nope.tar`)}`, '')
  assert.equal(missing.status, 400)
  assert.match(missing.body, /failed to GET .*nope\.tar with status 404/)

  // A git repository, as a path ending in .git (the daemon clones it, as it would a URL).
  const repo = join(d.dir, 'app.git')
  const work = context(d, { 'sub/Dockerfile': 'FROM busybox\nCOPY hello /\n', 'sub/hello': 'from git\n' })
  const git = (...args: string[]): ReturnType<typeof runCommand> => runCommand('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: work })
  await git('init', '-q', '-b', 'main')
  await git('add', '.')
  await git('commit', '-qm', 'init')
  await runCommand('git', ['clone', '-q', '--bare', work, repo])
  const fromGit = await raw(d.socket, 'POST', `/v1.50/build?t=git:1&remote=${encodeURIComponent(`${repo}#main:sub`)}`, '')
  assert.match(fromGit.body, /Successfully tagged git:1/, fromGit.body)
  assert.equal(await run(d, 'git:1', 'cat', '/hello'), 'from git\n')
  const viaCli = await d.cli('build', '-q', `${repo}#main:sub`)
  assert.equal(viaCli.code, 0, viaCli.stderr)

  // ADD of a git repository (without its .git unless --keep-git-dir) and of a URL checked against --checksum.
  const { createHash } = await import('node:crypto')
  const sum = `sha256:${createHash('sha256').update(readFileSync(tarFile)).digest('hex')}`
  const adds = context(d, {
    Dockerfile: `FROM busybox\nADD ${repo}#main /src/\nADD --keep-git-dir=true ${repo} /with-git/\nADD --checksum=${sum} ${base}/ctx.tar /dl/\n`,
  })
  const added = await d.cli('build', '-t', 'adds:1', adds)
  assert.equal(added.code, 0, added.stderr)
  assert.equal(await run(d, 'adds:1', 'sh', '-c', 'cat /src/sub/hello; ls -A /src; test -d /with-git/.git && echo has-git; ls /dl'), 'from git\nsub\nhas-git\nctx.tar\n')
  const wrongSum = await d.cli('build', context(d, { Dockerfile: `FROM busybox\nADD --checksum=sha256:${'0'.repeat(64)} ${base}/ctx.tar /dl/\n` }))
  assert.notEqual(wrongSum.code, 0)
  assert.match(wrongSum.stderr, /digest mismatch for http:.*ctx\.tar: expected sha256:0{64}, got sha256:[0-9a-f]{64}/)

  // A client names its build; /build/cancel with that name stops it.
  const slow = join(d.dir, 'slow.tar')
  await runCommand('tar', ['-cf', slow, '-C', context(d, { Dockerfile: 'FROM busybox\nRUN echo slow-started && sleep 60\n' }), '.'])
  const building = raw(d.socket, 'POST', '/v1.50/build?buildid=my-build', readFileSync(slow), { 'Content-Type': 'application/x-tar' })
  await waitFor('the slow step', async () => ((await d.cli('ps', '-q')).stdout.trim() !== '' ? true : undefined), 20_000)
  const cancel = await raw(d.socket, 'POST', '/v1.50/build/cancel?id=my-build')
  assert.equal(cancel.status, 200, cancel.body)
  const answered = await building
  assert.match(answered.body, /"errorDetail":\{"message":"build cancelled"\}/)
  await waitFor('the step container is gone', async () => ((await d.cli('ps', '-aq')).stdout === '' ? true : undefined), 15_000)
  const unknown = await raw(d.socket, 'POST', '/v1.50/build/cancel?id=nope')
  assert.equal(unknown.status, 404)
  const buildkit = await raw(d.socket, 'POST', '/v1.50/build?version=2', '')
  assert.equal(buildkit.status, 400)
  assert.match(buildkit.body, /BuildKit is not supported/)
})

test('the build route answers bad requests before any output', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const badArgs = await raw(d.socket, 'POST', '/v1.50/build?buildargs=%7Bnot-json', '')
  assert.equal(badArgs.status, 400)
  assert.match(badArgs.body, /invalid buildargs parameter/)
  const notTar = await raw(d.socket, 'POST', '/v1.50/build', 'this is not a tar archive, just text long enough to be read as one block of it')
  assert.equal(notTar.status, 400, notTar.body)
  const noDockerfile = await raw(d.socket, 'POST', '/v1.50/build?dockerfile=Other', '')
  assert.equal(noDockerfile.status, 400)
  assert.match(noDockerfile.body, /Cannot locate specified Dockerfile: Other/)
})

test('a context that points out of itself or is made to exhaust the daemon: Dockerfile and .dockerignore read inside it, bombs refused', async (t) => {
  const d = await startDaemon(t)
  const build = (body: Buffer, query = ''): ReturnType<typeof raw> => raw(d.socket, 'POST', `/v1.50/build?t=scoped:1${query}`, body, { 'Content-Type': 'application/x-tar' })
  // A host file the context links to: read by the daemon, it would be built (and its lines echoed in errors).
  const outside = join(mkdtempSync(join(d.dir, 'outside-')), 'Dockerfile')
  writeFileSync(outside, 'FROM busybox\nRUN echo read-from-the-host\n')
  const linked = await build(await makeTar([{ name: 'Dockerfile', type: 'symlink', linkname: outside }]))
  assert.equal(linked.status, 400, linked.body)
  assert.match(linked.body, /Cannot locate specified Dockerfile: Dockerfile/)
  assert.doesNotMatch(linked.body, /read-from-the-host/)
  // A link that stays inside is followed, as the kernel would inside the context.
  const inside = await build(await makeTar([
    { name: 'real/Dockerfile', content: 'FROM busybox\nRUN echo built-from-inside\n' },
    { name: 'Dockerfile', type: 'symlink', linkname: '/real/Dockerfile' },
  ]))
  assert.equal(inside.status, 200)
  assert.match(inside.body, /built-from-inside/)

  const huge = await build(gzipSync(await makeTar([{ name: 'Dockerfile', content: `FROM busybox\n${'#'.repeat(17 * 1024 * 1024)}\n` }])))
  assert.equal(huge.status, 400)
  assert.match(huge.body, /Dockerfile is 17825806 bytes, more than the 16777216 read from it/)
  assert.equal((await d.cli('version', '--format', '{{.Server.Version}}')).code, 0)
})

test('FROM an image not here pulls it, --pull pulls again, and --no-cache-filter reruns only the stages named', async (t) => {
  const d = await startDaemon(t)
  const reg = await startRegistry(t)
  const base = `${reg.address}/build/base:1`
  assert.equal((await d.cli('tag', 'busybox', base)).code, 0)
  assert.equal((await d.cli('push', base)).code, 0)
  assert.equal((await d.cli('rmi', base)).code, 0)
  const ctx = context(d, {
    Dockerfile: `FROM ${base} AS first\nRUN echo first > /f\nFROM ${base} AS second\nRUN echo second > /s\nFROM ${base}\nCOPY --from=first /f /f\nCOPY --from=second /s /s\n`,
  })
  const pulled = await d.cli('build', '--progress', 'plain', '-t', 'pulled:1', ctx)
  assert.equal(pulled.code, 0, pulled.stderr)
  assert.match(pulled.stdout, new RegExp(`Status: Downloaded newer image for ${base.replace(/[.]/g, '\\.')}`))
  assert.equal(await run(d, 'pulled:1', 'cat', '/f', '/s'), 'first\nsecond\n')

  const again = await d.cli('build', '--progress', 'plain', '--pull', '--no-cache-filter', 'first', ctx)
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stdout, /Status: Image is up to date/)
  assert.match(again.stdout, /Step 2\/7 : RUN echo first > \/f\n ---> Running in/, 'the named stage runs again')
  assert.match(again.stdout, /Step 4\/7 : RUN echo second > \/s\n ---> Using cache/, 'the other stage comes from the cache')
})
