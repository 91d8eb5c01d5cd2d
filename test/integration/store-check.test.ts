import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, type RunResult, caisdBin, runCommand, startDaemon } from '../helpers/daemon.ts'

test('corrupt records never stop the daemon; system check reports each in words, --repair sets them aside with nothing lost, and the store is clean after', async (t) => {
  const d = await startDaemon(t)
  const ok = async (...args: string[]): Promise<string> => {
    const r = await d.docker(...args)
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`)
    return r.stdout.trim()
  }
  await ok('create', '--name', 'keeper', '--network', 'none', BUSYBOX, 'true')
  const victim = await ok('create', '--name', 'victim', '--network', 'none', BUSYBOX, 'true')
  await ok('run', '--rm', '--network', 'none', '-v', 'precious:/data', BUSYBOX, 'sh', '-c', 'echo kept > /data/file')
  const network = await ok('network', 'create', 'netx')
  const clean = await d.cli('system', 'check')
  assert.equal(clean.code, 0, clean.stdout + clean.stderr)
  assert.match(clean.stdout, /^Checked: \d+ blobs, \d+ layers, 1 images, 2 containers, 1 volumes, \d+ networks\nNo problems found\n$/)
  const imageId = (await d.client.images.inspect(BUSYBOX)).Id.replace('sha256:', '')
  const busyboxLayer = (await d.client.images.inspect(BUSYBOX)).RootFS.Layers[0]!
  const committed = await ok('commit', 'keeper', 'committed:1')
  await d.stop()

  const root = d.root
  // The layer's blob (kept for save and push; the image runs from the unpacked layer) gets a byte changed.
  const fakeBlob = readdirSync(join(root, 'content/blobs/sha256')).find((n) => n !== imageId && statSync(join(root, 'content/blobs/sha256', n)).size > 100_000)!
  const blobPath = join(root, 'content/blobs/sha256', fakeBlob)
  const bytes = readFileSync(blobPath)
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff
  writeFileSync(blobPath, bytes)
  const victimRecord = join(root, 'containers', victim, 'container.json')
  writeFileSync(victimRecord, readFileSync(victimRecord, 'utf8').slice(0, 100))
  writeFileSync(join(root, 'volumes/precious/volume.json'), '{"name": ')
  // The daemon forgets a network whose record it cannot read, and its bridge with it: the test removes that.
  const { bridge } = JSON.parse(readFileSync(join(root, 'networks', `${network}.json`), 'utf8')) as { bridge: string }
  t.after(() => execFileSync('ip', ['link', 'del', 'dev', bridge], { stdio: 'ignore' }))
  writeFileSync(join(root, 'networks', `${network}.json`), '')
  writeFileSync(join(root, 'images', `${'e'.repeat(64)}.json`), '{"id": 7}')
  // The committed image's own layer goes: the start removes the image, the check names it.
  for (const f of readdirSync(join(root, 'layers')).filter((n) => n.endsWith('.json'))) {
    if (`sha256:${f.replace('.json', '')}` !== busyboxLayer) rmSync(join(root, 'layers', f))
  }
  // A cache, not a record: unreadable, it starts empty.
  writeFileSync(join(root, 'distribution/blob-sources.json'), '{"sha256:')
  const refs = JSON.parse(readFileSync(join(root, 'images/repositories.json'), 'utf8')) as { refs: Record<string, string> }
  refs.refs['docker.io/library/ghost:latest'] = `sha256:${'0'.repeat(64)}`
  writeFileSync(join(root, 'images/repositories.json'), JSON.stringify(refs))

  await d.start()
  assert.equal(await ok('ps', '-a', '--format', '{{.Names}}'), 'keeper', 'the broken container is left out, the others served')
  assert.equal(await ok('run', '--rm', '--network', 'none', BUSYBOX, 'echo', 'still running containers'), 'still running containers')

  const found = await d.cli('system', 'check')
  assert.equal(found.code, 1)
  const lines = found.stdout.split('\n')
  const has = (re: RegExp): void => assert.ok(lines.some((l) => re.test(l)), `${re} in:\n${found.stdout}`)
  has(new RegExp(`^blob sha256:${fakeBlob}: content does not match its digest \\(it hashes to sha256:${createHash('sha256').update(bytes).digest('hex')}\\)$`))
  has(new RegExp(`^container ${victimRecord}: unreadable record: not JSON`))
  has(/^volume .*\/volumes\/precious\/volume\.json: unreadable record: not JSON/)
  has(/^network .*\.json: unreadable record: empty file$/)
  has(/^image .*\/images\/e{64}\.json: unreadable record: not a record of this kind/)
  has(/^reference docker\.io\/library\/ghost:latest: names image sha256:0{64}, which is not here$/)
  has(new RegExp(`^image ${committed}: removed at start: its layers went missing, and its references with it \\(docker\\.io/library/committed:1\\)$`))
  assert.match(found.stdout, /7 problems, 7 left \(--repair mends what it can without losing data\)\n$/)

  const repaired = await d.cli('system', 'check', '--repair')
  assert.equal(repaired.code, 0, repaired.stdout)
  assert.equal(repaired.stdout.split('\n').filter((l) => l.startsWith('  repaired: ')).length, 7)
  const aside = join(root, 'broken/volumes')
  const volumeAside = readdirSync(aside).find((n) => n.startsWith('precious.'))!
  assert.equal(readFileSync(join(aside, volumeAside, '_data/file'), 'utf8'), 'kept\n', "the volume's data is kept")
  assert.ok(readdirSync(join(root, 'broken/containers')).some((n) => n.startsWith(`${victim}.`)), "the container's directory is kept")
  assert.ok(existsSync(join(root, 'broken/content/blobs/sha256')))

  const after = await d.cli('system', 'check')
  assert.equal(after.code, 0, after.stdout)
  assert.match(after.stdout, /No problems found/)
  // caisd --check-store: the same check with no daemon serving the store, refused while one does.
  const offline = (...args: string[]): Promise<RunResult> => runCommand(caisdBin, ['--root', d.root, '--exec-root', d.execRoot, '--check-store', ...args])
  const whileRunning = await offline()
  assert.equal(whileRunning.code, 1)
  assert.match(whileRunning.stderr, /caisd is (already )?running|pid/i, whileRunning.stderr)
  await d.stop()
  const sound = await offline()
  assert.equal(sound.code, 0, sound.stdout + sound.stderr)
  assert.match(sound.stdout, /^Checked: \d+ blobs, \d+ layers, 1 images, 1 containers, 0 volumes, \d+ networks\nNo problems found\n$/)
  writeFileSync(join(root, 'networks', `${'a'.repeat(64)}.json`), '{"id": "aaaa", "name": ')
  const unsound = await offline()
  assert.equal(unsound.code, 1, unsound.stdout)
  assert.match(unsound.stdout, new RegExp(`^network .*/networks/${'a'.repeat(64)}\\.json: unreadable record: not JSON`, 'm'))
  assert.match(unsound.stdout, /1 problem, 1 left \(--repair mends what it can without losing data\)\n$/)
  const mended = await offline('--repair')
  assert.equal(mended.code, 0, mended.stdout)
  assert.match(mended.stdout, /^ {2}repaired: set aside in .*\/broken\/networks\//m)
  assert.equal((await runCommand(caisdBin, ['--root', d.root, '--repair'])).code, 125, '--repair alone is refused')

  // A volume removal a crash cut short (renamed away, not yet deleted) is finished at start.
  mkdirSync(join(root, 'volumes', '.gone.0a1b2c3d.removing', '_data'), { recursive: true })
  await d.start()
  assert.ok(!existsSync(join(root, 'volumes', '.gone.0a1b2c3d.removing')))
  const restarted = await d.cli('system', 'check')
  assert.match(restarted.stdout, /No problems found/)
  assert.equal(await ok('ps', '-a', '--format', '{{.Names}}'), 'keeper')
  assert.equal(await ok('run', '--rm', '--network', 'none', BUSYBOX, 'echo', 'runs from its unpacked layer'), 'runs from its unpacked layer')
})

test('system check compares records with what runs: a container frozen behind the daemon\'s back is reported, and nothing once it thaws', async (t) => {
  const d = await startDaemon(t)
  const run = await d.docker('run', '-d', '--name', 'iced', '--network', 'none', BUSYBOX, 'sleep', '300')
  assert.equal(run.code, 0, run.stderr)
  const id = run.stdout.trim()
  assert.equal((await d.cli('system', 'check')).code, 0)
  // The freezer is set by hand, as a tool outside the daemon could: crun now reports the container paused.
  const v1 = `/sys/fs/cgroup/freezer/cais/${id}/freezer.state`
  const v2 = `/sys/fs/cgroup/cais/${id}/cgroup.freeze`
  const [file, freeze, thaw] = existsSync(v1) ? [v1, 'FROZEN', 'THAWED'] : [v2, '1', '0']
  writeFileSync(file, freeze)
  t.after(() => existsSync(file) && writeFileSync(file, thaw))
  const found = await d.cli('system', 'check')
  assert.equal(found.code, 1, found.stdout + found.stderr)
  assert.match(found.stdout, new RegExp(`container ${id.slice(0, 12)}\\S*: it is running by its record, but crun says paused`))
  writeFileSync(file, thaw)
  const after = await d.cli('system', 'check')
  assert.equal(after.code, 0, after.stdout + after.stderr)
  assert.equal((await d.docker('rm', '-f', 'iced')).code, 0)
})
