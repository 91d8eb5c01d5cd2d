import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { parse, stringify } from 'yaml'
import { canonicalProject, goDuration } from './canonical.ts'
import { loadProject } from './load.ts'
import { normalizeProject } from './model.ts'

const testdata = join(import.meta.dirname, 'testdata')

// A project touching every part of the model (modelled on compose-go's loader/full-example.yml, our own data), and
// what `config` prints for it: compose-go's field order, long syntaxes, bytes, Go durations, sorted maps.
test('config: the full example in canonical form, YAML and JSON alike', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cais-canonical-'))
  try {
    copyFileSync(join(testdata, 'full-example.yml'), join(dir, 'compose.yaml'))
    copyFileSync(join(testdata, 'example1.env'), join(dir, 'example1.env'))
    const loaded = loadProject({ files: [], envFiles: [], env: { SESSION_SECRET: 's3' }, cwd: dir })
    const doc = canonicalProject(normalizeProject(loaded, { profiles: [], warnings: [] }))
    const expected = readFileSync(join(testdata, 'full-example.canonical.yml'), 'utf8').replaceAll('${DIR}', dir)
    assert.equal(stringify(doc), expected)
    assert.deepEqual(JSON.parse(JSON.stringify(doc)), parse(expected), 'the JSON form is the same document')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('config: short syntaxes become the long ones compose writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cais-canonical-'))
  try {
    const file = join(dir, 'compose.yaml')
    const write = (text: string): Record<string, unknown> => {
      writeFileSync(file, text)
      return canonicalProject(normalizeProject(loadProject({ files: [], envFiles: [], env: {}, cwd: dir }), { profiles: [], warnings: [] }))
    }
    const doc = write('name: p\nservices:\n  a:\n    image: x\n    ports: ["8000-8010:80"]\n    depends_on: [b]\n  b:\n    image: x\n    network_mode: host\n')
    const a = (doc['services'] as Record<string, Record<string, unknown>>)['a']!
    assert.deepEqual(a['ports'], [{ mode: 'ingress', target: 80, published: '8000-8010', protocol: 'tcp' }], 'a published range for one port stays a range')
    assert.deepEqual(a['depends_on'], { b: { condition: 'service_started', required: true } })
    assert.deepEqual(a['networks'], { default: null })
    assert.equal((doc['services'] as Record<string, Record<string, unknown>>)['b']!['networks'], undefined, 'network_mode: no networks')
    assert.deepEqual(doc['networks'], { default: { name: 'p_default' } })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test("durations as Go's time.Duration writes them", () => {
  for (const [given, printed] of [['90s', '1m30s'], ['1h', '1h0m0s'], ['2h30m', '2h30m0s'], ['500ms', '500ms'], ['1.5s', '1.5s'], ['1m0.5s', '1m0.5s'], [10, '10s'], ['0s', '0s'], ['soon', 'soon']] as const) {
    assert.equal(goDuration(given), printed, String(given))
  }
})
