import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { jsonErrorOffset, loadDaemonConfig } from './config-file.ts'

test('the JSON scanner stops where JSON.parse does', () => {
  for (const [text, at] of [
    ['{"a": [1,]}', 9],
    ['{"a" 1}', 5],
    ['{"a": tru}', 9],
    ['{"a": "x\\q"}', 9],
    ['{"a": 1} x', 9],
    ['{"a": 01}', 7],
    ['{"a": {"b": [true, false, null, -1.5e3, "\\u00e9"]}}', 51],
  ] as const) {
    assert.equal(jsonErrorOffset(text), at, text)
    assert.equal(jsonErrorOffset(text) === text.length, (() => {
      try {
        JSON.parse(text)
        return true
      } catch {
        return false
      }
    })(), `${text}: valid for one, not the other`)
  }
})

test('file keys become flags; aliases of a flag given on the command line conflict with its key', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cais-config-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'daemon.json')
  writeFileSync(file, JSON.stringify({ 'data-root': '/srv/cais', hosts: ['unix:///run/a.sock', 'unix:///run/b.sock'], debug: true, labels: ['a=1'], 'default-address-pools': [{ base: '10.250.0.0/16', size: 24 }] }))
  const loaded = loadDaemonConfig(['--config-file', file, '--bridge-name', 'cx0'])
  assert.ok(loaded !== 'help')
  const c = loaded.config
  assert.deepEqual([c.root, c.hosts, c.logLevel, c.labels, c.addressPools, c.bridgeName, loaded.file], ['/srv/cais', ['unix:///run/a.sock', 'unix:///run/b.sock'], 'debug', ['a=1'], [{ base: '10.250.0.0/16', size: 24 }], 'cx0', file])
  assert.throws(() => loadDaemonConfig(['--config-file', file, '--root', '/x']), /specified both as a flag and in the configuration file: data-root: \(from flag: \/x, from file: "\/srv\/cais"\)/)
  assert.throws(() => loadDaemonConfig(['--config-file', file, '-D']), /debug: \(from flag: true, from file: true\)/)
  assert.throws(() => loadDaemonConfig(['--config-file', file, '-H', 'unix:///run/c.sock']), /hosts: \(from flag: unix:\/\/\/run\/c\.sock/)
  writeFileSync(file, '  \n')
  const empty = loadDaemonConfig(['--config-file', file])
  assert.ok(empty !== 'help')
  assert.equal(empty.config.root, '/var/lib/cais')
})
