import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { parseDotenv } from './dotenv.ts'
import { interpolate } from './interpolate.ts'
import { loadProject, mergeDocuments } from './load.ts'
import { configHash, dependencyOrder, normalizeProject } from './model.ts'

const vars: Record<string, string> = { SET: 'value', EMPTY: '' }
const lookup = (n: string): string | undefined => vars[n]

test('interpolation: every form of the spec, nesting and $$', () => {
  assert.equal(interpolate('$SET ${SET} $$SET $$$SET', lookup, 'x'), 'value value $SET $value')
  assert.equal(interpolate('${UNSET:-d}|${EMPTY:-d}|${UNSET-d}|${EMPTY-d}', lookup, 'x'), 'd|d|d|')
  assert.equal(interpolate('${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}', lookup, 'x'), 'alt||alt|')
  assert.equal(interpolate('${UNSET:-${SET}-nested}', lookup, 'x'), 'value-nested')
  assert.throws(() => interpolate('${UNSET:?must be set}', lookup, 'x'), /required variable UNSET is missing a value: must be set/)
  assert.throws(() => interpolate('${EMPTY:?}', lookup, 'x'), /required variable EMPTY is missing a value/)
  assert.equal(interpolate('${EMPTY?}', lookup, 'x'), '')
  assert.throws(() => interpolate('${SET', lookup, 'services.web.image'), /invalid interpolation format for services\.web\.image/)
})

test('env files: quotes, escapes, export, comments, references to earlier keys and the shell', () => {
  const env = parseDotenv(
    [
      '# comment',
      'export A=plain # trailing comment',
      "B='single $A \\n'",
      'C="double $A\\nnext"',
      'D=${A}-${SHELLVAR}',
      'E=',
      'F="multi',
      'line"',
      'SHELLVAR',
    ].join('\n'),
    (n) => (n === 'SHELLVAR' ? 'fromshell' : undefined),
  )
  assert.deepEqual(Object.fromEntries(env), { A: 'plain', B: 'single $A \\n', C: 'double plain\nnext', D: 'plain-fromshell', E: '', F: 'multi\nline', SHELLVAR: 'fromshell' })
})

test('merging files: mappings merge, sequences append, command replaced, ports unique by target', () => {
  const merged = mergeDocuments(
    { services: { web: { image: 'a', command: ['x', 'y'], environment: { A: '1' }, ports: ['8080:80', '443'], dns: ['1.1.1.1'] } } },
    { services: { web: { command: ['z'], environment: { B: '2' }, ports: ['9090:80'], dns: ['8.8.8.8'] } } },
  )
  assert.deepEqual(merged, { services: { web: { image: 'a', command: ['z'], environment: { A: '1', B: '2' }, ports: ['9090:80', '443'], dns: ['1.1.1.1', '8.8.8.8'] } } })
})

const made: string[] = []
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

function project(files: Record<string, string>, env: NodeJS.ProcessEnv = {}, extra: Partial<Parameters<typeof loadProject>[0]> = {}): ReturnType<typeof loadProject> {
  const dir = mkdtempSync(join(tmpdir(), 'cais-compose-'))
  made.push(dir)
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
  return loadProject({ files: [], envFiles: [], env, cwd: join(dir, 'My App!'.replace(/[^A-Za-z]/g, '')), ...extra })
}

test('loading: found upward with its override, .env feeds interpolation, the shell wins, the project name is normalised', () => {
  const p = project(
    {
      'compose.yaml': 'services:\n  web:\n    image: busybox:${TAG}\n    environment: [GREETING, ONLY_HERE=1]\n',
      'compose.override.yaml': 'services:\n  web:\n    labels: [tier=front]\n',
      '.env': 'TAG=from-dotenv\nGREETING=hello\n',
      'MyApp/.keep': '',
    },
    { TAG: 'from-shell' },
  )
  assert.equal(p.name, p.workingDir.split('/').at(-1)!.toLowerCase().replace(/[^a-z0-9_-]/g, ''))
  const n = normalizeProject(p, { profiles: [], warnings: [] })
  const web = n.services[0]!
  assert.equal(web.image, 'busybox:from-shell')
  assert.deepEqual(web.environment, { GREETING: 'hello', ONLY_HERE: '1' })
  assert.deepEqual(web.labels, { tier: 'front' })
  assert.deepEqual(Object.keys(n.networks), ['default'])
  assert.equal(n.networks['default']!.name, `${p.name}_default`)
})

test('normalisation: short syntaxes to long, profiles, depends_on conditions, cycles named, a changed service changes its hash', () => {
  const p = project({
    'compose.yaml': `name: shop
services:
  web:
    image: web
    command: sh -c "echo 'a b'"
    ports: ["127.0.0.1::80", "8080:80/udp", "[::1]:9090:90"]
    volumes: ["./data:/data:ro", "cache:/cache", "/anon"]
    depends_on:
      db: { condition: service_healthy }
  db:
    image: db
  debug:
    image: busybox
    profiles: [debug]
volumes:
  cache: {}
`,
  })
  const warnings: string[] = []
  const n = normalizeProject(p, { profiles: [], warnings })
  assert.deepEqual(n.services.map((s) => s.name), ['web', 'db'], 'the debug profile is not active')
  const web = n.services[0]!
  assert.deepEqual(web.command, ['sh', '-c', "echo 'a b'"])
  assert.deepEqual(web.ports, [
    { target: 80, host_ip: '127.0.0.1', protocol: 'tcp' },
    { target: 80, published: '8080', protocol: 'udp' },
    { target: 90, published: '9090', host_ip: '::1', protocol: 'tcp' },
  ])
  assert.deepEqual(web.volumes, [
    { type: 'bind', source: join(p.workingDir, 'data'), target: '/data', read_only: true },
    { type: 'volume', source: 'cache', target: '/cache', read_only: false },
    { type: 'volume', target: '/anon', read_only: false },
  ])
  assert.equal(n.volumes['cache']!.name, 'shop_cache')
  assert.deepEqual(dependencyOrder(n.services).map((s) => s.name), ['db', 'web'])
  assert.notEqual(configHash(web), configHash({ ...web, environment: { X: '1' } }))
  assert.equal(configHash(web), configHash({ ...web }))

  const cyclic = project({ 'compose.yaml': 'services:\n  a: { image: x, depends_on: [b] }\n  b: { image: x, depends_on: [a] }\n' })
  assert.throws(() => dependencyOrder(normalizeProject(cyclic, { profiles: [], warnings: [] }).services), /dependency cycle detected: a -> b -> a/)
})

test('bad input: YAML errors name file, line and column; duplicate keys; bad names; missing variables; undefined references', () => {
  assert.throws(() => project({ 'compose.yaml': 'services:\n  web:\n    image: [unclosed\n' }), /compose\.yaml:\d+:\d+: /)
  assert.throws(() => project({ 'compose.yaml': 'services:\n  web:\n    image: a\n    image: b\n' }), /compose\.yaml:4:5: Map keys must be unique/)
  assert.throws(() => project({ 'compose.yaml': 'services: {}\n' }, {}, { projectName: 'Bad Name' }), /invalid project name "Bad Name"/)
  assert.throws(() => project({ 'compose.yaml': 'services:\n  web:\n    image: ${IMAGE:?set IMAGE first}\n' }), /required variable IMAGE is missing a value: set IMAGE first/)
  const undefinedNet = project({ 'compose.yaml': 'services:\n  web:\n    image: x\n    networks: [back]\n' })
  assert.throws(() => normalizeProject(undefinedNet, { profiles: [], warnings: [] }), /service "web" refers to undefined network back/)
  assert.throws(() => project({ 'compose.yaml': 'services:\n  web:\n    image: x\n    ports: [{ target: 80, mode: [1] }]\n' }), /validating \S+compose\.yaml:4:33: services\.web\.ports\[0\]\.mode must be a string/)
  assert.throws(() => project({ 'compose.yaml': 'services:\n  web:\n    image: x\n    colour: blue\n' }), /services\.web\.colour is not allowed/)
  const noImage = project({ 'compose.yaml': 'services:\n  web:\n    command: x\n' })
  assert.throws(() => normalizeProject(noImage, { profiles: [], warnings: [] }), /service "web" has neither an image nor a build context specified/)
})

test('extends: a chain in the same file and a service in another file, ties to other services not inherited, cycles named', () => {
  const p = project({
    'common.yaml': 'services:\n  base:\n    image: busybox\n    environment: { FROM_FILE: "1" }\n    labels: [origin=common]\n',
    'compose.yaml': `services:
  db:
    image: db
  app:
    extends: { file: common.yaml, service: base }
    depends_on: [db]
    environment: { OWN: "2" }
  worker:
    extends: app
    command: ["work"]
`,
  })
  const n = normalizeProject(p, { profiles: [], warnings: [] })
  const app = n.services.find((s) => s.name === 'app')!
  const worker = n.services.find((s) => s.name === 'worker')!
  assert.equal(app.image, 'busybox')
  assert.deepEqual(app.environment, { FROM_FILE: '1', OWN: '2' })
  assert.deepEqual(app.labels, { origin: 'common' })
  assert.deepEqual(Object.keys(app.depends_on), ['db'])
  assert.deepEqual(worker.environment, { FROM_FILE: '1', OWN: '2' })
  assert.deepEqual(worker.command, ['work'])
  assert.deepEqual(worker.depends_on, {}, 'depends_on is not inherited')
  assert.throws(() => project({ 'compose.yaml': 'services:\n  a: { image: x, extends: b }\n  b: { image: x, extends: a }\n' }), /circular reference with extends: a -> b -> a/)
})
