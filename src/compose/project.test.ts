import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { containerName, createBody } from './convert.ts'
import { loadProject } from './load.ts'
import { type Project, changedAttributes, attributeHashes, networksByPriority, normalizeProject } from './model.ts'
import { projectVariables } from './variables.ts'

/** Loads and normalises a project written into a fresh directory. */
function project(files: Record<string, string>, opts: { env?: NodeJS.ProcessEnv; profiles?: string[] } = {}): Project & { warnings: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'cais-compose-'))
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  try {
    const warnings: string[] = []
    const loaded = loadProject({ files: [], envFiles: [], env: opts.env ?? {}, cwd: dir })
    return { ...normalizeProject(loaded, { profiles: opts.profiles ?? [], warnings }), warnings }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('include: services, networks and paths of an included project, resolved against its own directory; cycles named', () => {
  const p = project({
    'compose.yaml': 'include:\n  - db/compose.yaml\nservices:\n  web:\n    image: busybox\n    depends_on: [db]\n',
    'db/compose.yaml': 'services:\n  db:\n    image: busybox:${DB_TAG}\n    volumes: [./data:/data]\n    env_file: db.env\n',
    'db/.env': 'DB_TAG=1.36\n',
    'db/db.env': 'DB_USER=admin\n',
  })
  const db = p.services.find((s) => s.name === 'db')!
  assert.equal(db.image, 'busybox:1.36', 'the included project reads its own .env')
  assert.match(db.volumes[0]!.source!, /\/db\/data$/)
  assert.deepEqual(db.environment, { DB_USER: 'admin' })
  assert.throws(
    () => project({ 'compose.yaml': 'include: [a.yaml]\nservices: {}\n', 'a.yaml': 'include: [b.yaml]\n', 'b.yaml': 'include: [a.yaml]\n' }),
    /include cycle detected: .*a\.yaml -> .*b\.yaml -> .*a\.yaml/,
  )
  assert.throws(
    () => project({ 'compose.yaml': 'include: [other.yaml]\nservices:\n  db:\n    image: mine\n', 'other.yaml': 'services:\n  db:\n    image: theirs\n' }),
    /services\.db conflicts with imported resource/,
  )
})

test('!reset removes and !override replaces what an earlier file said', () => {
  const p = project({
    'compose.yaml': 'services:\n  web:\n    image: busybox\n    ports: ["8080:80"]\n    environment: {A: "1", B: "2"}\n    command: ["sleep", "1"]\n',
    'compose.override.yaml': 'services:\n  web:\n    ports: !reset []\n    environment: !override {C: "3"}\n    command: !reset null\n',
  })
  const web = p.services[0]!
  assert.deepEqual(web.ports, [])
  assert.deepEqual(web.environment, { C: '3' })
  assert.equal(web.command, undefined)
})

test('env_file, secrets, configs, volumes_from, links and container options become the engine\'s fields', () => {
  const p = project(
    {
      'compose.yaml': `services:
  app:
    image: busybox
    env_file: [app.env, {path: missing.env, required: false}]
    environment: {FROM_FILE_TOO: overridden}
    secrets: [token, {source: key, target: key.pem, mode: 0400, uid: "1000"}]
    configs: [{source: conf, target: /etc/app.conf}]
    volumes_from: [data:ro]
    links: [data:storage]
    mem_limit: 64m
    shm_size: 1g
    pids_limit: 50
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 64}
    sysctls: [net.core.somaxconn=1024]
    tmpfs: [/scratch:size=1m]
    pid: service:data
    cgroup: private
    logging: {driver: json-file, options: {max-size: 1m}}
    deploy: {resources: {limits: {cpus: "0.5", memory: 128m}}}
  data:
    image: busybox
secrets:
  token: {file: ./token.txt}
  key: {environment: KEY}
configs:
  conf: {content: "x=1"}
`,
      'app.env': 'FROM_FILE=yes\nFROM_FILE_TOO=no\n',
    },
    { env: { KEY: 'secret' } },
  )
  const app = p.services.find((s) => s.name === 'app')!
  assert.deepEqual(app.environment, { FROM_FILE: 'yes', FROM_FILE_TOO: 'overridden' })
  assert.deepEqual(app.secrets.map((s) => [s.target, s.mode, s.uid]), [['/run/secrets/token', undefined, undefined], ['/run/secrets/key.pem', 0o400, '1000']])
  assert.equal(app.mem_limit, 64 * 1024 * 1024, 'mem_limit wins over deploy.resources')
  assert.equal(app.cpus, 0.5, 'deploy.resources fills what is unset')
  const body = createBody(p, app, 1, 'busybox')
  const hc = body.HostConfig!
  assert.equal(hc['Memory'], 64 * 1024 * 1024)
  assert.equal(hc['NanoCpus'], 5e8)
  assert.equal(hc['ShmSize'], 1024 ** 3)
  assert.equal(hc['PidsLimit'], 50)
  assert.deepEqual(hc['Ulimits'], [{ Name: 'nofile', Soft: 1024, Hard: 2048 }, { Name: 'nproc', Soft: 64, Hard: 64 }])
  assert.deepEqual(hc['Sysctls'], { 'net.core.somaxconn': '1024' })
  assert.deepEqual(hc['Tmpfs'], { '/scratch': 'size=1m' })
  assert.equal(hc['PidMode'], `container:${containerName(p, p.services.find((s) => s.name === 'data')!, 1)}`)
  assert.deepEqual(hc['VolumesFrom'], [`${p.name}-data-1:ro`])
  assert.deepEqual(hc['Links'], [`${p.name}-data-1:storage`])
  assert.deepEqual(hc['LogConfig'], { Type: 'json-file', Config: { 'max-size': '1m' } })
  assert.equal(hc['CgroupnsMode'], 'private')
  const mounts = hc['Mounts'] as Array<{ Source?: string; Target: string; ReadOnly: boolean }>
  assert.ok(mounts.some((m) => m.Target === '/run/secrets/token' && m.Source!.endsWith('/token.txt') && m.ReadOnly), 'a file secret is a read-only bind')
  assert.ok(!mounts.some((m) => m.Target === '/run/secrets/key.pem'), 'an environment secret is copied in, not mounted')
})

test('bad secrets, profiles and volumes_from references are named', () => {
  assert.throws(() => project({ 'compose.yaml': 'services:\n  a:\n    image: x\n    secrets: [nope]\n' }), /service "a" refers to undefined secret nope/)
  assert.throws(() => project({ 'compose.yaml': 'services:\n  a:\n    image: x\n    volumes_from: [ghost]\n' }), /undefined service "ghost" in volumes_from/)
  assert.throws(
    () => project({ 'compose.yaml': 'services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    profiles: [debug]\n' }),
    /service "a" depends on service "b" which is disabled by its profiles/,
  )
  const withProfile = project({ 'compose.yaml': 'services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    profiles: [debug]\n' }, { profiles: ['debug'] })
  assert.deepEqual(withProfile.services.map((s) => s.name), ['a', 'b'])
  assert.throws(() => project({ 'compose.yaml': 'services:\n  a:\n    image: x\n    mem_limit: lots\n' }), /services\.a\.mem_limit: invalid size "lots"/)
})

test('attribute hashes name what changed between two configs', () => {
  const before = project({ 'compose.yaml': 'services:\n  a:\n    image: x\n    environment: {A: "1"}\n' }).services[0]!
  const after = project({ 'compose.yaml': 'services:\n  a:\n    image: x\n    environment: {A: "2"}\n    ports: ["80"]\n' }).services[0]!
  assert.deepEqual(changedAttributes(attributeHashes(before), attributeHashes(after)), ['environment', 'ports'])
  assert.deepEqual(changedAttributes(attributeHashes(before), attributeHashes(before)), [])
})

test('config --variables: defaults, required ones, where each value comes from, and the env_file trap', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cais-compose-'))
  try {
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  a:\n    image: busybox:${TAG:-latest}\n    command: ["echo", "${GREETING:?say hi}", "$$NOT_A_VAR", "${FROM_ENV_FILE}"]\n    env_file: app.env\n')
    writeFileSync(join(dir, '.env'), 'GREETING=hello\n')
    writeFileSync(join(dir, 'app.env'), 'FROM_ENV_FILE=only-here\n')
    const loaded = loadProject({ files: [], envFiles: [], env: { TAG: '1.36' }, cwd: dir })
    const p = normalizeProject(loaded, { profiles: [], warnings: [] })
    const warnings: string[] = []
    const vars = projectVariables(p, { TAG: '1.36' }, warnings)
    assert.deepEqual(
      vars.map((v) => [v.name, v.required, v.defaultValue, v.value, v.source === 'shell' ? 'shell' : v.source.endsWith('.env') ? '.env' : v.source]),
      [['FROM_ENV_FILE', false, '', undefined, 'unset'], ['GREETING', true, '', 'hello', '.env'], ['TAG', false, 'latest', '1.36', 'shell']],
    )
    assert.equal(warnings.length, 1)
    assert.match(warnings[0]!, /FROM_ENV_FILE is set in app\.env, the env_file of service "a", which does not feed interpolation/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test("networks: joined by priority, then by name, as compose does; gw_priority becomes the endpoint's GwPriority", () => {
  const p = project({
    'compose.yaml': `name: order
services:
  app:
    image: busybox
    networks:
      zeta: {}
      alpha: {gw_priority: 5}
      mid: {priority: 10, gw_priority: 1}
  plain:
    image: busybox
    networks: [zeta, alpha]
networks: {zeta: {}, alpha: {}, mid: {}}
`,
  })
  const [app, plain] = [p.services.find((s) => s.name === 'app')!, p.services.find((s) => s.name === 'plain')!]
  assert.deepEqual(networksByPriority(app), ['mid', 'alpha', 'zeta'])
  assert.deepEqual(networksByPriority(plain), ['alpha', 'zeta'], 'without priorities, by name whatever the file order')
  const body = createBody(p, app, 1, 'busybox')
  assert.equal(body.HostConfig!.NetworkMode, 'order_mid')
  assert.deepEqual(body.NetworkingConfig!.EndpointsConfig!['order_mid'], { Aliases: ['app'], GwPriority: 1 })
  assert.equal(createBody(p, plain, 1, 'busybox').HostConfig!.NetworkMode, 'order_alpha')
})

test('volumes: an image mount in long syntax, with its subpath', () => {
  const p = project({ 'compose.yaml': 'name: imgs\nservices:\n  app:\n    image: busybox\n    volumes:\n      - {type: image, source: "tools:1", target: /tools, image: {subpath: bin}}\n' })
  const mounts = createBody(p, p.services[0]!, 1, 'busybox').HostConfig!['Mounts'] as Array<Record<string, unknown>>
  assert.deepEqual(mounts, [{ Type: 'image', Source: 'tools:1', Target: '/tools', ReadOnly: false, ImageOptions: { Subpath: 'bin' } }])
})
