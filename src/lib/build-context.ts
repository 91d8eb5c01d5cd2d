import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, resolve, sep } from 'node:path'
import { Readable } from 'node:stream'
import { IgnoreRules } from './dockerignore.ts'
import { cloneContext, isGitUrl } from './git-clone.ts'
import { peek } from './peek.ts'
import { looksLikeTar, packDirectory } from './tar.ts'

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
    const { head, stream } = await peek(stdin, 512)
    if (looksLikeTar(head)) return { tar: stream, dockerfile: dockerfileFlag ?? 'Dockerfile', cleanup: noop }
    // A Dockerfile on stdin, with an empty context.
    const text = await readAll(stream)
    const empty = await mkdtemp(join(tmpdir(), 'cais-build-'))
    return { tar: packDirectory(empty, { extra: [{ name: 'Dockerfile', data: text }] }), dockerfile: 'Dockerfile', cleanup: () => rm(empty, { recursive: true, force: true }) }
  }
  if (isGitUrl(source)) {
    const dir = await mkdtemp(join(tmpdir(), 'cais-build-git-'))
    try {
      const prepared = await fromDirectory(await cloneContext(source, dir), dockerfileFlag, stdin)
      return { ...prepared, cleanup: () => rm(dir, { recursive: true, force: true }) }
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      throw err
    }
  }
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(source)
    if (!res.ok || !res.body) throw new Error(`unable to download remote context ${source}: ${res.status} ${res.statusText}`)
    return { tar: Readable.fromWeb(res.body as never), dockerfile: dockerfileFlag ?? 'Dockerfile', cleanup: noop }
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

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}
