import { chmod, chown, copyFile, lstat, mkdtemp, readdir, rm, rmdir } from 'node:fs/promises'
import { dirname, join, posix } from 'node:path'
import { invalid } from '../lib/errors.ts'

/** A `RUN --mount=…` as written (BuildKit's syntax), checked. */
export type RunMount =
  | { type: 'cache'; target: string; id: string; sharing: 'shared' | 'private' | 'locked'; readonly: boolean; uid: number; gid: number; mode: number }
  | { type: 'bind'; target: string; source: string; from: string | undefined; rw: boolean }
  | { type: 'tmpfs'; target: string; size: number | undefined }
  | { type: 'secret'; target: string; id: string; required: boolean; mode: number; uid: number; gid: number; env: string | undefined }

/** Parses one `--mount` value, e.g. `type=cache,target=/root/.cache,sharing=locked`. */
export function parseRunMount(spec: string, workdir: string): RunMount {
  const fields = new Map<string, string>()
  for (const part of spec.split(',')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase()
    const value = eq < 0 ? 'true' : part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')
    fields.set(key, value)
  }
  const type = fields.get('type') ?? 'bind'
  const get = (...names: string[]): string | undefined => names.map((n) => fields.get(n)).find((v) => v !== undefined)
  const bool = (v: string | undefined): boolean => v !== undefined && v !== 'false' && v !== '0'
  const num = (name: string, v: string | undefined, dflt: number, base = 10): number => {
    if (v === undefined) return dflt
    const n = Number.parseInt(v, base)
    if (Number.isNaN(n) || n < 0) throw invalid(`invalid ${name} in --mount=${spec}`)
    return n
  }
  const targetOf = (dflt?: string): string => {
    const t = get('target', 'dst', 'destination') ?? dflt
    if (!t) throw invalid(`--mount=${spec}: a target is required`)
    return posix.resolve(workdir || '/', t)
  }
  switch (type) {
    case 'cache': {
      const target = targetOf()
      const sharing = get('sharing') ?? 'shared'
      if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') throw invalid(`invalid sharing mode ${sharing} in --mount=${spec}: shared, private or locked`)
      return {
        type, target, id: get('id') ?? target, sharing, readonly: bool(get('readonly', 'ro')),
        uid: num('uid', get('uid'), 0), gid: num('gid', get('gid'), 0), mode: num('mode', get('mode'), 0o755, 8),
      }
    }
    case 'bind':
      return { type, target: targetOf(), source: get('source', 'src') ?? '/', from: get('from'), rw: bool(get('rw', 'readwrite')) }
    case 'tmpfs': {
      const size = get('size')
      return { type, target: targetOf(), size: size === undefined ? undefined : num('size', size, 0) }
    }
    case 'secret': {
      const id = get('id') ?? (get('target', 'dst') ? posix.basename(get('target', 'dst')!) : undefined)
      if (!id) throw invalid(`--mount=${spec}: a secret needs an id or a target`)
      const env = get('env')
      return {
        type, id, target: env && !get('target', 'dst') ? '' : targetOf(`/run/secrets/${id}`), required: bool(get('required')),
        mode: num('mode', get('mode'), 0o400, 8), uid: num('uid', get('uid'), 0), gid: num('gid', get('gid'), 0), env,
      }
    }
    case 'ssh':
      throw invalid('RUN --mount=type=ssh is not supported: cais does not forward an ssh agent into builds')
    default:
      throw invalid(`unsupported mount type "${type}" in --mount=${spec}`)
  }
}

/** A private copy of a secret file, owned and moded as the mount asks, in a directory the caller removes. */
export async function secretFile(source: string, mount: Extract<RunMount, { type: 'secret' }>, scratch: string): Promise<string> {
  const dir = await mkdtemp(join(scratch, 'secret-'))
  const file = join(dir, 'secret')
  await copyFile(source, file)
  await chown(file, mount.uid, mount.gid)
  await chmod(file, mount.mode)
  return file
}

/**
 * Removes from a RUN's writable layer the mount points the runtime made for its `--mount`s (an empty file or
 * directory, and parents made for it), when nothing below the writable layer has them: a mount must leave no
 * trace in the image.
 */
export async function removeMountPoints(upper: string, lowers: readonly string[], targets: readonly string[]): Promise<void> {
  const inLower = async (p: string): Promise<boolean> => {
    for (const l of lowers) if (await lstat(join(l, p)).then(() => true, () => false)) return true
    return false
  }
  for (const target of [...targets].sort((a, b) => b.length - a.length)) {
    for (let p = target; p !== '/' && p !== '.'; p = dirname(p)) {
      if (await inLower(p)) break
      const host = join(upper, p)
      const st = await lstat(host).catch(() => undefined)
      if (!st) continue
      if (st.isDirectory()) {
        if ((await readdir(host)).length > 0) break
        await rmdir(host)
      } else if (st.isFile() && st.size === 0) await rm(host)
      else break
    }
  }
}
