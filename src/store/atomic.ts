import { randomBytes } from 'node:crypto'
import { open, readFile, readdir, rename, rm, unlink } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { isErrno } from '../lib/errors.ts'
import { KeyedMutex } from '../lib/mutex.ts'

/**
 * Writes a file so that a crash at any moment leaves either the old or the new content:
 * temp file in the same directory, fsync, rename over the target, fsync the directory.
 * With `durable: false` the fsyncs are left out: a daemon crash still sees old or new content, and only a
 * machine crash may lose the write (for records whose loss costs nothing, such as a cache entry's last use).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600, opts: { durable?: boolean } = {}): Promise<void> {
  if (writeInPlace) return writeFileInPlace(path, data, mode)
  // Writes of one file land in the order they were asked for: two at once could otherwise rename out of order, and
  // the older content would win (a tag answered, then lost).
  const durable = opts.durable ?? true
  await writesByPath.run(path, () => replaceFile(path, data, mode, durable))
  if (durable) await syncDir(dirname(path))
}

const writesByPath = new KeyedMutex()

/** Temp file beside the target, written (and with `durable` synced), renamed over the target. */
async function replaceFile(path: string, data: string | Uint8Array, mode: number, durable: boolean): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const fh = await open(tmp, 'w', mode)
  try {
    await fh.writeFile(data)
    if (durable) await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
}

/**
 * A deliberate bug, for the crash torture to prove that it catches one (`CAIS_FAILPOINT=record-without-rename`):
 * the file is truncated and written in place, in two halves a few milliseconds apart.
 */
const writeInPlace = process.env['CAIS_FAILPOINT'] === 'record-without-rename'

async function writeFileInPlace(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  const fh = await open(path, 'w', mode)
  try {
    await fh.write(bytes.subarray(0, bytes.length >> 1))
    await new Promise((r) => setTimeout(r, 20))
    await fh.write(bytes.subarray(bytes.length >> 1))
  } finally {
    await fh.close()
  }
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

export const writeJsonAtomic = (path: string, value: unknown): Promise<void> => writeFileAtomic(path, JSON.stringify(value))

/** Reads a JSON record, or undefined when it does not exist. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    throw err
  }
}

/** True for the leftovers of an interrupted writeFileAtomic, which startup may delete. */
export const isTempFile = (name: string): boolean => name.startsWith('.') && name.endsWith('.tmp')

/** Deletes the leftovers of interrupted writes in `dir` (nothing refers to them): at start, before anything writes there. */
export async function removeTempFiles(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [])
  await Promise.all(names.filter(isTempFile).map((n) => rm(join(dir, n), { force: true })))
}
