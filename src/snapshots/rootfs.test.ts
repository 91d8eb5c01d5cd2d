import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { Mounter } from '../lib/mounter.ts'
import { isMounted } from '../lib/mountinfo.ts'
import type { LayerStore } from './layers.ts'
import { RootfsManager } from './rootfs.ts'

/** The real mounter, counting the unmounts that reach it. */
class CountingMounter extends Mounter {
  unmounts = 0

  override async unmount(target: string): Promise<void> {
    this.unmounts++
    await super.unmount(target)
  }
}

test('an unmount asks the mounter once per mount: a second call waits for the first, a later one has nothing to do', async () => {
  const dir = mkdtempSync('/tmp/cais-rootfs-')
  const mounter = new CountingMounter()
  // An image with no layers: the overlay's lower dir is the rootfs's own empty one, so no layer is looked up.
  const rootfs = new RootfsManager({ snapshotsDir: dir } as unknown as LayerStore, mounter)
  const container = join(dir, 'container')
  const merged = join(container, 'merged')
  try {
    await rootfs.create(container)
    await rootfs.mount(container, null)
    assert.ok(await isMounted(merged))

    await Promise.all([rootfs.unmount(container), rootfs.unmount(container)])
    assert.equal(mounter.unmounts, 1)
    assert.equal(await isMounted(merged), false)
    await rootfs.unmount(container)
    assert.equal(mounter.unmounts, 1)

    // A mount since makes the next unmount a real one again.
    await rootfs.mount(container, null)
    assert.ok(await isMounted(merged))
    await rootfs.unmount(container)
    assert.equal(mounter.unmounts, 2)
    assert.equal(await isMounted(merged), false)

    // Once forgotten (its container removed), the dir is unknown: an unmount asks the mounter again.
    rootfs.forget(container)
    await rootfs.unmount(container)
    assert.equal(mounter.unmounts, 3)
  } finally {
    await new Mounter({ helper: false }).unmount(merged).catch(() => {})
    mounter.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a failed unmount is not remembered: the next call tries again', async () => {
  const dir = mkdtempSync('/tmp/cais-rootfs-')
  let failures = 1
  class FailingOnce extends CountingMounter {
    override async unmount(target: string): Promise<void> {
      if (failures-- > 0) {
        this.unmounts++
        throw new Error('unmount failed')
      }
      await super.unmount(target)
    }
  }
  const mounter = new FailingOnce()
  const rootfs = new RootfsManager({ snapshotsDir: dir } as unknown as LayerStore, mounter)
  const container = join(dir, 'container')
  const merged = join(container, 'merged')
  try {
    await rootfs.create(container)
    await rootfs.mount(container, null)
    await assert.rejects(rootfs.unmount(container), /unmount failed/)
    assert.ok(await isMounted(merged))
    await rootfs.unmount(container)
    assert.equal(mounter.unmounts, 2)
    assert.equal(await isMounted(merged), false)
  } finally {
    await new Mounter({ helper: false }).unmount(merged).catch(() => {})
    mounter.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
