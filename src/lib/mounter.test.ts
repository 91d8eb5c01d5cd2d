import assert from 'node:assert/strict'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { Mounter } from './mounter.ts'
import { isMounted } from './mountinfo.ts'

/** The same behaviour through the helper process and through mount(8)/umount(8). */
for (const helper of [true, false]) {
  test(`overlay mount and unmount (${helper ? 'helper' : 'mount(8) tools'})`, async () => {
    const dir = mkdtempSync('/tmp/cais-mounter-')
    const mounter = new Mounter({ helper })
    try {
      for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(dir, d))
      writeFileSync(join(dir, 'lower', 'a'), 'from lower')
      const merged = join(dir, 'merged')
      // The lower dir is relative: it resolves against the cwd given.
      await mounter.mountOverlay(merged, `lowerdir=lower,upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, dir)
      assert.equal(helper, mounter.helperPid !== undefined)
      assert.ok(await isMounted(merged))
      assert.equal(readFileSync(join(merged, 'a'), 'utf8'), 'from lower')
      writeFileSync(join(merged, 'b'), 'written')
      assert.equal(readFileSync(join(dir, 'upper', 'b'), 'utf8'), 'written')

      await mounter.unmount(merged)
      assert.equal(await isMounted(merged), false)
      // Not a mount point, or not there at all: nothing to do.
      await mounter.unmount(merged)
      await mounter.unmount(join(dir, 'missing'))

      // A busy mount is detached: gone from the mount table, still readable through the open file.
      await mounter.mountOverlay(merged, `lowerdir=lower,upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, dir)
      const fd = openSync(join(merged, 'a'), 'r')
      try {
        await mounter.unmount(merged)
        assert.equal(await isMounted(merged), false)
        assert.equal(readFileSync(fd, 'utf8'), 'from lower')
      } finally {
        closeSync(fd)
      }

      await assert.rejects(mounter.mountOverlay(merged, `lowerdir=nowhere,upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, dir), (err: Error) =>
        err.message.includes(merged),
      )
      assert.equal(await isMounted(merged), false)
    } finally {
      mounter.close()
      await new Mounter({ helper: false }).unmount(join(dir, 'merged')).catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('calls fall back to the tools when the helper dies', async () => {
  const dir = mkdtempSync('/tmp/cais-mounter-')
  const mounter = new Mounter()
  try {
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(dir, d))
    const merged = join(dir, 'merged')
    const options = `lowerdir=${join(dir, 'lower')},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`
    await mounter.mountOverlay(merged, options, '/')
    const pid = mounter.helperPid
    assert.ok(pid)
    process.kill(pid, 'SIGKILL')
    for (let i = 0; i < 100 && mounter.helperPid !== undefined; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(mounter.helperPid, undefined)
    await mounter.unmount(merged)
    assert.equal(await isMounted(merged), false)
  } finally {
    mounter.close()
    await new Mounter({ helper: false }).unmount(join(dir, 'merged')).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the helper ends once idle and starts again at the next call', async () => {
  const dir = mkdtempSync('/tmp/cais-mounter-')
  const mounter = new Mounter({ idleMs: 50 })
  try {
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(dir, d))
    const merged = join(dir, 'merged')
    await mounter.mountOverlay(merged, `lowerdir=${join(dir, 'lower')},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, '/')
    const first = mounter.helperPid
    assert.ok(first)
    const exited = (): boolean => !existsSync(`/proc/${first}`)
    for (let i = 0; i < 200 && !exited(); i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(mounter.helperPid, undefined, 'retired')
    assert.ok(exited(), 'the retired helper exited')
    await mounter.unmount(merged)
    assert.equal(await isMounted(merged), false)
    assert.ok(mounter.helperPid !== undefined && mounter.helperPid !== first, 'a new helper made the call, not the tools')
  } finally {
    mounter.close()
    await new Mounter({ helper: false }).unmount(join(dir, 'merged')).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
})
