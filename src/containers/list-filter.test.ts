import assert from 'node:assert/strict'
import { test } from 'node:test'
import { containerFilter } from './list-filter.ts'
import { type ContainerRecord, initialState } from './record.ts'

function record(name: string, state: Partial<ContainerRecord['state']>, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: `${name}0123456789`,
    name: `/${name}`,
    config: { Labels: {} },
    hostConfig: { NetworkMode: 'bridge' },
    imageId: 'sha256:img',
    mounts: [],
    state: { ...initialState(), ...state },
    ...extra,
  } as unknown as ContainerRecord
}

const web = record('web', { Status: 'running', Running: true }, { config: { Labels: { tier: 'front' } } as unknown as ContainerRecord['config'], created: '2024-01-01T00:00:01Z' })
const job = record('job', { Status: 'exited', ExitCode: 3 }, { imageId: 'sha256:busybox', created: '2024-01-01T00:00:02Z' })
const fresh = record('fresh', {}, { created: '2024-01-01T00:00:03Z' })
const all = [web, job, fresh]
const ports: Record<string, Array<{ PrivatePort: number; PublicPort?: number; Type: string }>> = {
  '/web': [{ PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }, { PrivatePort: 53, Type: 'udp' }],
  '/job': [{ PrivatePort: 8080, Type: 'tcp' }],
}
const names = (f: Map<string, string[]>, opts = { all: false }): string[] =>
  all
    .filter(
      containerFilter(f, {
        ...opts,
        imageIdOf: (ref) => (ref === 'busybox' ? 'sha256:busybox' : undefined),
        containerOf: (ref) => {
          const found = all.find((r) => r.name === `/${ref}`)
          if (!found) throw new Error(`No such container: ${ref}`)
          return found
        },
        portsOf: (r) => ports[r.name] ?? [],
      }),
    )
    .map((r) => r.name)

test('publish and expose match published host ports and container ports, with ranges and protocols; before and since', () => {
  const a = { all: true }
  assert.deepEqual(names(new Map([['publish', ['8080']]]), a), ['/web'], 'publish looks at the host port')
  assert.deepEqual(names(new Map([['publish', ['80']]]), a), [])
  assert.deepEqual(names(new Map([['expose', ['8080']]]), a), ['/job'], 'expose looks at the container port')
  assert.deepEqual(names(new Map([['expose', ['50-60/udp']]]), a), ['/web'])
  assert.deepEqual(names(new Map([['expose', ['53']]]), a), [], 'tcp unless named')
  assert.throws(() => names(new Map([['publish', ['x']]]), a), /invalid filter 'publish=x'/)
  assert.deepEqual(names(new Map([['before', ['job']]]), a), ['/web'])
  assert.deepEqual(names(new Map([['since', ['web']]]), a), ['/job', '/fresh'])
  assert.throws(() => names(new Map([['since', ['nope']]]), a), /No such container: nope/)
  assert.deepEqual(names(new Map([['is-task', ['true']]]), a), [])
  assert.deepEqual(names(new Map([['is-task', ['false']]]), a).length, 3)
})

test('without all only running containers; a status or exited filter looks at all of them', () => {
  assert.deepEqual(names(new Map()), ['/web'])
  assert.deepEqual(names(new Map(), { all: true }), ['/web', '/job', '/fresh'])
  assert.deepEqual(names(new Map([['status', ['created']]])), ['/fresh'])
  assert.deepEqual(names(new Map([['exited', ['3']]])), ['/job'])
  assert.deepEqual(names(new Map([['exited', ['0']]])), [])
})

test('name is a regular expression (a leading slash allowed); one that does not compile matches nothing', () => {
  assert.deepEqual(names(new Map([['name', ['^j']]]), { all: true }), ['/job'])
  assert.deepEqual(names(new Map([['name', ['/fre']]]), { all: true }), ['/fresh'])
  assert.deepEqual(names(new Map([['name', ['(']]]), { all: true }), [])
  assert.deepEqual(names(new Map([['name', ['(', 'web']]]), { all: true }), ['/web'])
})

test('id prefix, label, ancestor, health and network', () => {
  assert.deepEqual(names(new Map([['id', ['job01']]]), { all: true }), ['/job'])
  assert.deepEqual(names(new Map([['label', ['tier=front']]]), { all: true }), ['/web'])
  assert.deepEqual(names(new Map([['ancestor', ['busybox']]]), { all: true }), ['/job'])
  assert.deepEqual(names(new Map([['ancestor', ['nope']]]), { all: true }), [], 'an image not here: nothing')
  assert.deepEqual(names(new Map([['health', ['none']]]), { all: true }), ['/web', '/job', '/fresh'])
  assert.deepEqual(names(new Map([['network', ['bridge']]]), { all: true }), ['/web', '/job', '/fresh'])
  assert.deepEqual(names(new Map([['network', ['other']]]), { all: true }), [])
})
