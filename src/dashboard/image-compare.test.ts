import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compareImages } from './image-compare.ts'

test('two images compared file by file: shared layers, added, removed and modified files; directories only when their kind changes', () => {
  const a = {
    layers: [{ digest: 'sha256:base' }, { digest: 'sha256:a1' }],
    merged: [
      { path: 'bin', size: 0, kind: 'dir' as const, layer: 0 },
      { path: 'bin/sh', size: 100, kind: 'file' as const, layer: 0 },
      { path: 'app', size: 0, kind: 'dir' as const, layer: 1 },
      { path: 'app/config', size: 10, kind: 'file' as const, layer: 1 },
      { path: 'app/old', size: 5, kind: 'file' as const, layer: 1 },
    ],
  }
  const b = {
    layers: [{ digest: 'sha256:base' }, { digest: 'sha256:b1' }],
    merged: [
      { path: 'bin', size: 0, kind: 'dir' as const, layer: 0 },
      { path: 'bin/sh', size: 100, kind: 'file' as const, layer: 0 },
      { path: 'app', size: 0, kind: 'dir' as const, layer: 1 },
      { path: 'app/config', size: 12, kind: 'file' as const, layer: 1 },
      { path: 'app/new', size: 7, kind: 'file' as const, layer: 1 },
    ],
  }
  const c = compareImages(a, b)
  assert.deepEqual(c.sharedLayers, ['sha256:base'])
  assert.equal(c.sharedBytes, 100)
  assert.deepEqual(c.added, [{ path: 'app/new', kind: 'file', size: 7 }])
  assert.deepEqual(c.removed, [{ path: 'app/old', kind: 'file', size: 5 }])
  assert.deepEqual(c.modified, [{ path: 'app/config', kind: 'file', size: 12, sizeBefore: 10 }])
  assert.deepEqual(compareImages(a, a), { sharedLayers: ['sha256:base', 'sha256:a1'], sharedBytes: 115, added: [], removed: [], modified: [] })
})
