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
    // The deletions are held until the test lets them go, so the first is still under way at the second remove.
    let release = (): void => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    const removal = new BackgroundRemoval(async (d) => {
      prepared.push(d)
      await held
    })
    const dir = join(parent, 'bundle')
    tree(dir)
    await removal.remove(dir)
    assert.equal(existsSync(dir), false)
    // Made again and removed again while the first deletion runs: it goes under another name at once.
    tree(dir)
    // Under the first one's name, the rename would fail and the remove would wait for a deletion in place.
    const waited = new Promise((_, reject) => setTimeout(() => reject(new Error('the second remove waited for the first deletion')), 2000).unref())
    await Promise.race([removal.remove(dir), waited])
    assert.equal(existsSync(dir), false)
    const doomed = readdirSync(parent)
    assert.equal(doomed.length, 2, `two directories being removed: ${doomed.join(', ')}`)
    assert.ok(doomed.every(isBeingRemoved))
    release()
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
