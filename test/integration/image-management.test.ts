import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { Readable } from 'node:stream'
import tar from 'tar-stream'
import { makeDockerArchive, makeTar } from '../helpers/archive.ts'
import { BUSYBOX, type TestDaemon, dockerBin, startDaemon } from '../helpers/daemon.ts'

const skip = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

/** Entry names (and symlink targets, as `name -> target`) of a tar. */
async function tarEntries(data: Buffer): Promise<Map<string, tar.Header>> {
  const out = new Map<string, tar.Header>()
  const extract = tar.extract()
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      out.set(h.name, h)
      stream.on('end', next)
      stream.resume()
    })
    extract.on('finish', resolve)
    extract.on('error', reject)
  })
  Readable.from([data]).pipe(extract)
  await done
  return out
}

test('commit: the writable layer and config become an image; deletions stay deleted; it runs', async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'run', '--name', 'src', '-e', 'GREETING=hello', BUSYBOX, 'sh', '-c', 'echo data > /made.txt && mkdir -p /opt/app && echo x > /opt/app/f && rm /bin/vi')
  const out = await ok(d, 'commit', '-m', 'my change', '-a', 'tester', '-c', 'CMD ["cat", "/made.txt"]', '-c', 'LABEL stage=two', 'src', 'committed:v1')
  const id = out.trim()
  assert.match(id, /^sha256:[a-f0-9]{64}$/)

  const img = await d.client.images.inspect('committed:v1')
  const base = await d.client.images.inspect(BUSYBOX)
  assert.equal(img.Id, id)
  assert.equal(img.RootFS.Layers.length, base.RootFS.Layers.length + 1)
  assert.deepEqual(img.RootFS.Layers.slice(0, -1), base.RootFS.Layers)
  const config = img.Config as { Cmd: string[]; Labels: Record<string, string>; Env: string[] }
  assert.deepEqual(config.Cmd, ['cat', '/made.txt'])
  assert.equal(config.Labels['stage'], 'two')
  assert.ok(config.Env.includes('GREETING=hello'), 'the container env is kept')
  assert.equal(img.Comment, 'my change')
  assert.equal(img.Author, 'tester')

  assert.equal((await d.cli('run', '--rm', 'committed:v1')).stdout, 'data\n')
  const gone = await d.cli('run', '--rm', 'committed:v1', 'ls', '/bin/vi')
  assert.notEqual(gone.code, 0, 'a file the container deleted is deleted in the image (whiteout)')
  assert.equal((await d.cli('run', '--rm', 'committed:v1', 'cat', '/opt/app/f')).stdout, 'x\n')

  // A directory removed and made again is opaque in overlayfs: the image must not show the old contents.
  await ok(d, 'run', '--name', 'opaque', BUSYBOX, 'sh', '-c', 'rm -rf /usr && mkdir -p /usr && echo only > /usr/only')
  await ok(d, 'commit', 'opaque', 'committed:opaque')
  assert.equal((await d.cli('run', '--rm', 'committed:opaque', 'ls', '/usr')).stdout, 'only\n')

  const history = await ok(d, 'history', 'committed:v1')
  assert.match(history.split('\n')[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT/)
  assert.match(history.split('\n')[1]!, /sh -c echo data.*my change/)

  // A commit of a running container pauses it for the copy and leaves it running.
  await ok(d, 'run', '-d', '--name', 'live', BUSYBOX, 'sh', '-c', 'echo live > /live.txt; sleep 300')
  await ok(d, 'commit', 'live', 'committed:live')
  assert.equal((await d.client.containers.inspect('live')).State.Status, 'running')
  assert.equal((await d.cli('run', '--rm', 'committed:live', 'cat', '/live.txt')).stdout, 'live\n')

  const missing = await d.cli('commit', 'nope', 'x:1')
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /No such container: nope/)
  const badRef = await d.cli('commit', 'src', 'UPPER:1')
  assert.equal(badRef.code, 1)
  assert.match(badRef.stderr, /invalid reference format/)
})

test('export: a tar of the container filesystem, running or stopped', async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'run', '--name', 'done', BUSYBOX, 'sh', '-c', 'echo exported > /exported.txt && ln -sf /exported.txt /pointer && rm -f /bin/vi')
  const r = await d.client.containers.export('done')
  const chunks: Buffer[] = []
  for await (const c of r) chunks.push(c as Buffer)
  const entries = await tarEntries(Buffer.concat(chunks))
  assert.ok(entries.has('exported.txt'))
  assert.equal(entries.get('pointer')?.type, 'symlink')
  assert.equal(entries.get('pointer')?.linkname, '/exported.txt')
  assert.ok(entries.has('bin/sh'))
  assert.equal(entries.has('bin/vi'), false, 'a deleted file is not exported')
  assert.equal([...entries.keys()].some((n) => n.includes('.wh.')), false, 'no whiteouts in an export')
  // The stopped container's rootfs was mounted for the export only.
  assert.equal((await d.client.containers.inspect('done')).State.Status, 'exited')
  const start = await d.cli('start', '-a', 'done')
  assert.equal(start.code, 0, start.stderr)

  const missing = await d.cli('export', 'nope')
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /No such container: nope/)
})

test('image prune: dangling only by default, -a for every unused image, filters, space reclaimed', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const load = async (tag: string, content: string): Promise<string> => {
    const { archive, imageId } = await makeDockerArchive([await makeTar([{ name: `${tag.replace(/\W/g, '_')}.txt`, content }])], { tag })
    const r = await d.cliWithInput(archive, 'load')
    assert.equal(r.code, 0, r.stderr)
    return imageId
  }
  const keep = await load('keep:1', 'keep')
  const used = await load('used:1', 'used')

  // An untagged image: tag, then retag the name elsewhere.
  const orphan = await load('orphan:1', 'orphan')
  await ok(d, 'tag', keep, 'orphan:1')
  assert.deepEqual((await d.client.images.inspect(orphan)).RepoTags, [])
  await ok(d, 'create', '--name', 'user', 'used:1')

  const pruned = await ok(d, 'image', 'prune', '-f')
  assert.match(pruned, new RegExp(`deleted: ${orphan}`))
  assert.match(pruned, /Total reclaimed space: \d/)
  const left = (await d.client.images.list()).map((i) => i.Id).sort()
  assert.deepEqual(left, [keep, used].sort())

  const untilPast = await ok(d, 'image', 'prune', '-a', '-f', '--filter', 'until=2000-01-01T00:00:00Z')
  assert.match(untilPast, /Total reclaimed space: 0B/)
  const all = await ok(d, 'image', 'prune', '-a', '-f')
  assert.match(all, /untagged: keep:1/)
  assert.match(all, /untagged: orphan:1/)
  assert.deepEqual((await d.client.images.list()).map((i) => i.Id), [used], 'an image a container uses stays')

  const bad = await d.cli('image', 'prune', '-f', '--filter', 'dangling=maybe')
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /invalid filter 'dangling=maybe'/)
  const unknown = await d.cli('image', 'prune', '-f', '--filter', 'color=red')
  assert.equal(unknown.code, 1)
  assert.match(unknown.stderr, /invalid filter 'color'/)
})

test('the docker CLI: commit, history, export and image prune against caisd', { skip }, async (t) => {
  const d = await startDaemon(t)
  const run = await d.docker('run', '--name', 'dk', BUSYBOX, 'sh', '-c', 'echo via-docker > /d.txt')
  assert.equal(run.code, 0, run.stderr)
  const commit = await d.docker('commit', '-c', 'ENV MODE=prod', 'dk', 'dockercommit:1')
  assert.equal(commit.code, 0, commit.stderr)
  assert.match(commit.stdout, /^sha256:[a-f0-9]{64}\n$/)
  const cat = await d.docker('run', '--rm', 'dockercommit:1', 'sh', '-c', 'cat /d.txt; echo $MODE')
  assert.equal(cat.stdout, 'via-docker\nprod\n', cat.stderr)
  const history = await d.docker('history', '--no-trunc', 'dockercommit:1')
  assert.equal(history.code, 0, history.stderr)
  assert.match(history.stdout, /sh -c echo via-docker > \/d\.txt/)
  const exp = await d.docker('export', 'dk')
  assert.equal(exp.code, 0, exp.stderr)
  assert.ok(exp.stdout.includes('via-docker'), 'the export holds the file')
  await d.docker('rm', 'dk')
  await d.docker('tag', BUSYBOX, 'dockercommit:1') // leaves the committed image dangling
  const prune = await d.docker('image', 'prune', '-f')
  assert.equal(prune.code, 0, prune.stderr)
  assert.match(prune.stdout, /deleted: sha256:/)
  assert.match(prune.stdout, /Total reclaimed space:/)
})
