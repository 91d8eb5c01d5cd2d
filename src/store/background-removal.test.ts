import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BackgroundRemoval, isBeingRemoved } from './background-removal.ts'

function tree(dir: string): void {
  mkdirSync(join(dir, 'a', 'b'), { recursive: true })
  writeFileSync(join(dir, 'a', 'b', 'f'), 'x')
  writeFileSync(join(dir, 'g'), 'y')
}

test('the name is free when remove resolves; the tree goes in the background; made and removed again at once', async () => {
  const parent = mkdtempSync('/tmp/cais-removal-')
  try {
    const prepared: string[] = []
    const removal = new BackgroundRemoval(async (d) => {
      prepared.push(d)
    })
    const dir = join(parent, 'bundle')
    tree(dir)
    await removal.remove(dir)
    assert.equal(existsSync(dir), false)
    // Made again and removed again at once: another name, whether or not the first deletion has ended.
    tree(dir)
    await removal.remove(dir)
    assert.equal(existsSync(dir), false)
    await removal.settled()
    assert.deepEqual(readdirSync(parent), [])
    assert.equal(prepared.length, 2)
    assert.ok(prepared.every(isBeingRemoved), 'prepared where it was renamed to')
    // Nothing there: nothing to do.
    await removal.remove(join(parent, 'none'))
  } finally {
    rmSync(parent, { recursive: true, force: true })
  }
})

test('sweep deletes what a crash left being removed, and only that', async () => {
  const parent = mkdtempSync('/tmp/cais-removal-')
  try {
    tree(join(parent, 'x.1-0.removing'))
    tree(join(parent, 'kept'))
    writeFileSync(join(parent, 'file'), '')
    await new BackgroundRemoval().sweep(parent)
    assert.deepEqual(readdirSync(parent).sort(), ['file', 'kept'])
    await new BackgroundRemoval().sweep(join(parent, 'missing'))
  } finally {
    rmSync(parent, { recursive: true, force: true })
  }
})
