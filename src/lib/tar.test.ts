import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import tar from 'tar-stream'
import { extractTar } from './tar.ts'

async function tarOf(names: string[]): Promise<Buffer> {
  const pack = tar.pack()
  for (const name of names) pack.entry({ name }, name)
  pack.finalize()
  const chunks: Buffer[] = []
  for await (const c of pack) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

test('extractTar refuses an archive of more entries than allowed (a build context made to exhaust the daemon)', async (t) => {
  const dir = mkdtempSync('/tmp/cais-tar-')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const files = ['a', 'b', 'c']
  assert.deepEqual(await extractTar(Readable.from([await tarOf(files)]), dir, { maxEntries: 3 }), { size: 3 })
  assert.deepEqual(readdirSync(dir).sort(), files)
  await assert.rejects(extractTar(Readable.from([await tarOf(['d', 'e', 'f', 'g'])]), mkdtempSync(join(dir, 'x-')), { maxEntries: 3 }), /invalid tar: more than 3 entries/)
})
