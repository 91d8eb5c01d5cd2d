import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, resolve, sep } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { IgnoreRules } from '../../../lib/dockerignore.ts'
import { execFile } from '../../../lib/exec.ts'
import { compressionOf, packDirectory } from '../../../lib/tar.ts'

/** The context a build sends, as a tar stream, and the Dockerfile name the daemon finds in it. */
export interface PreparedContext {
  tar: Readable
  dockerfile: string
  cleanup(): Promise<void>
}

/**
 * Prepares a build context from a directory (`.dockerignore` applied here, entries sent as root's, as the docker
 * CLI does), a tar or a Dockerfile on stdin (`-`), or a URL (a git repository, or a tar archive over HTTP). A
 * Dockerfile from outside the context, or `-f -`, travels inside the tar under a name of its own.
 */
export async function prepareContext(source: string, dockerfileFlag: string | undefined, stdin: Readable): Promise<PreparedContext> {
  const noop = async (): Promise<void> => {}
  if (source === '-') {
    if (dockerfileFlag === '-') throw new Error('invalid argument: can\'t use stdin for both build context and dockerfile')
    const head = await firstBytes(stdin)
    const isTar = compressionOf(head.bytes) !== 'none' || (head.bytes.length >= 262 && head.bytes.toString('latin1', 257, 262) === 'ustar')
    if (isTar) return { tar: head.stream, dockerfile: dockerfileFlag ?? 'Dockerfile', cleanup: noop }
    // A Dockerfile on stdin, with an empty context.
    const text = await readAll(head.stream)
    const empty = await mkdtemp(join(tmpdir(), 'cais-build-'))
    return { tar: packDirectory(empty, { extra: [{ name: 'Dockerfile', data: text }] }), dockerfile: 'Dockerfile', cleanup: () => rm(empty, { recursive: true, force: true }) }
  }
  if (/^(https?:\/\/|git@|git:\/\/)/.test(source)) {
    if (/^https?:\/\//.test(source) && !/\.git(#.*)?$/.test(source)) {
      const res = await fetch(source)
      if (!res.ok || !res.body) throw new Error(`unable to download remote context ${source}: ${res.status} ${res.statusText}`)
      return { tar: Readable.fromWeb(res.body as never), dockerfile: dockerfileFlag ?? 'Dockerfile', cleanup: noop }
    }
    const [url, fragment = ''] = source.split('#')
    const [ref, subdir = ''] = fragment.split(':')
    const dir = await mkdtemp(join(tmpdir(), 'cais-build-git-'))
    const args = ['clone', '--depth', '1', '--recurse-submodules', ...(ref ? ['--branch', ref] : []), url!, dir]
    const r = await execFile('git', args)
    if (r.code !== 0) {
      await rm(dir, { recursive: true, force: true })
      throw new Error(`unable to prepare context: unable to 'git clone' to temporary context directory: ${r.stderr.trim()}`)
    }
    const prepared = await fromDirectory(join(dir, subdir), dockerfileFlag, stdin)
    return { ...prepared, cleanup: () => rm(dir, { recursive: true, force: true }) }
  }
  return fromDirectory(source, dockerfileFlag, stdin)
}

async function fromDirectory(dir: string, dockerfileFlag: string | undefined, stdin: Readable): Promise<PreparedContext> {
  const root = resolve(dir)
  const st = await stat(root).catch(() => undefined)
  if (!st?.isDirectory()) throw new Error(`unable to prepare context: path "${dir}" not found`)
  const extra: Array<{ name: string; data: Buffer }> = []
  let dockerfile = 'Dockerfile'
  if (dockerfileFlag === '-') {
    dockerfile = `.dockerfile.${randomBytes(10).toString('hex')}`
    extra.push({ name: dockerfile, data: await readAll(stdin) })
  } else {
    const path = dockerfileFlag ? resolve(dockerfileFlag) : join(root, 'Dockerfile')
    if (!existsSync(path)) {
      const lower = join(root, 'dockerfile')
      if (dockerfileFlag || !existsSync(lower)) throw new Error(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${path}: no such file or directory`)
      dockerfile = 'dockerfile'
    } else if (path.startsWith(root + sep)) dockerfile = relative(root, path).split(sep).join('/')
    else {
      dockerfile = `.dockerfile.${randomBytes(10).toString('hex')}`
      extra.push({ name: dockerfile, data: await readFile(path) })
    }
  }
  const specific = await readFile(join(root, `${dockerfile}.dockerignore`), 'utf8').catch(() => undefined)
  const ignore = new IgnoreRules(specific ?? (await readFile(join(root, '.dockerignore'), 'utf8').catch(() => '')))
  // The Dockerfile and .dockerignore always go, as the docker CLI sends them: the daemon reads them.
  const always = new Set([dockerfile, '.dockerignore'])
  const skip = (rel: string, isDir: boolean): boolean => !always.has(rel) && ignore.excludes(rel) && !(isDir && ignore.hasExceptions)
  return { tar: packDirectory(root, { skip, owner: { uid: 0, gid: 0 }, extra }), dockerfile, cleanup: async () => {} }
}

/** The first bytes of a stream, and a stream that still yields all of it. */
async function firstBytes(stream: Readable): Promise<{ bytes: Buffer; stream: Readable }> {
  const chunks: Buffer[] = []
  let size = 0
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  while (size < 512) {
    const next = await iterator.next()
    if (next.done) break
    chunks.push(next.value)
    size += next.value.length
  }
  const bytes = Buffer.concat(chunks)
  const rest = new PassThrough()
  rest.write(bytes)
  void (async () => {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) if (!rest.write(next.value)) await new Promise((r) => rest.once('drain', r))
    rest.end()
  })().catch((err: unknown) => rest.destroy(err as Error))
  return { bytes, stream: rest }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}
