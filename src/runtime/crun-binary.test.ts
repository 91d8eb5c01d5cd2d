import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { createLogger } from '../lib/log.ts'
import { isMounted } from '../lib/mountinfo.ts'
import { readOnlyCrun, releaseReadOnlyCrun } from './crun-binary.ts'

const crun = '/usr/bin/crun'

test('crun runs from a read-only bind mount of itself, released at shutdown', { skip: existsSync(crun) ? false : 'crun is not installed' }, async () => {
  const dir = mkdtempSync('/tmp/cais-crun-bin-')
  const lines: string[] = []
  try {
    const bin = await readOnlyCrun(crun, dir, createLogger('debug', (l) => lines.push(l)))
    assert.equal(bin.path, join(dir, 'bin', 'crun'))
    assert.deepEqual(bin.env, { _LIBCONTAINER_CLONED_BINARY: '1' })
    assert.ok(await isMounted(bin.path))
    assert.match(execFileSync(bin.path, ['--version'], { encoding: 'utf8' }), /crun version/)
    // Read-only, so nothing can write the host's crun through it (checked in the mount table: a write to try it
    // would reach the host's crun if the mount were not).
    const entry = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[4] === bin.path)
    assert.ok(entry?.[5]?.split(',').includes('ro'), `mount options: ${entry?.[5]}`)
    // A second start finds the mount already there and makes it afresh.
    assert.equal((await readOnlyCrun(crun, dir, createLogger('debug', (l) => lines.push(l)))).path, bin.path)
    assert.deepEqual(lines, [])
    await releaseReadOnlyCrun(bin.path)
    assert.equal(await isMounted(bin.path), false)
    assert.equal(existsSync(bin.path), false)
  } finally {
    await releaseReadOnlyCrun(join(dir, 'bin', 'crun')).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
})

test('where the bind mount cannot be made, crun runs as it is, with a warning', async () => {
  const dir = mkdtempSync('/tmp/cais-crun-bin-')
  const lines: string[] = []
  try {
    const missing = join(dir, 'no-such-crun')
    const bin = await readOnlyCrun(missing, dir, createLogger('debug', (l) => lines.push(l)))
    assert.deepEqual(bin, { path: missing, env: {} })
    assert.equal(lines.length, 1)
    assert.match(lines[0]!, /"level":"warn".*read-only bind mount/)
    assert.equal(await isMounted(join(dir, 'bin', 'crun')), false)
    assert.equal(existsSync(join(dir, 'bin', 'crun')), false)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
