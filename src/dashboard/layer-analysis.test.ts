import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type LayerEntry, analyseLayers } from './layer-analysis.ts'

const dir = (path: string): LayerEntry => ({ path, size: 0, kind: 'dir' })
const file = (path: string, size: number): LayerEntry => ({ path, size, kind: 'file' })

test('marks: a later layer modifies, deletes (whiteout) and adds; the merged tree names the layer of each file', () => {
  const a = analyseLayers([
    [dir('data/'), file('data/a', 1000), file('data/b', 300), dir('etc'), file('etc/x', 10)],
    [dir('data'), file('data/a', 500), file('data/.wh.b', 0)],
    [dir('./data/'), file('./data/c', 20)],
  ])
  const marks = (i: number): string[] => a.layers[i]!.entries.map((e) => `${e.mark[0]} ${e.path} ${e.size}`)
  assert.deepEqual(marks(1), ['m data 0', 'm data/a 500', 'd data/b 300'])
  assert.deepEqual(marks(2), ['m data 0', 'a data/c 20'])
  assert.deepEqual(
    a.merged.map((e) => `${e.path}@${e.layer}`),
    ['data@2', 'data/a@1', 'data/c@2', 'etc@0', 'etc/x@0'],
  )
  // data/a: 1000 + 500; data/b: 300 + its deletion, 300; the directory data occurs thrice with 0 bytes.
  assert.equal(a.wastedBytes, 2100)
  assert.equal(a.efficiency, (500 + 300 + 10 + 20) / (1500 + 600 + 10 + 20))
  assert.deepEqual(a.inefficiencies.map((i) => [i.path, i.count, i.bytes]), [['data/a', 2, 1500], ['data/b', 2, 600], ['data', 3, 0]])
  assert.deepEqual(a.layers.map((l) => l.bytes), [1310, 500, 20])
})

test('an opaque directory deletes what the layers below had in it; a file replacing a directory replaces its contents', () => {
  const a = analyseLayers([
    [dir('app'), file('app/one', 5), file('app/two', 7), dir('cfg'), file('cfg/x', 3)],
    [dir('app'), file('app/.wh..wh..opq', 0), file('app/three', 1), file('cfg', 9)],
  ])
  assert.deepEqual(
    a.layers[1]!.entries.map((e) => `${e.mark} ${e.path}`),
    ['modified app', 'deleted app/one', 'added app/three', 'deleted app/two', 'modified cfg'],
  )
  assert.deepEqual(a.merged.map((e) => e.path), ['app', 'app/three', 'cfg'])
})

test('a whiteout and a new file of the same name in one layer: deleted below, then made again', () => {
  const a = analyseLayers([[file('f', 4)], [file('f', 2), file('.wh.f', 0)]])
  assert.deepEqual(a.layers[1]!.entries.map((e) => `${e.mark} ${e.path} ${e.size}`), ['deleted f 4', 'added f 2'])
  assert.deepEqual(a.merged.map((e) => `${e.path}@${e.layer}:${e.size}`), ['f@1:2'])
})

test('no layers, or no files: nothing wasted, fully efficient', () => {
  assert.deepEqual(analyseLayers([]), { layers: [], merged: [], wastedBytes: 0, efficiency: 1, inefficiencies: [] })
})
