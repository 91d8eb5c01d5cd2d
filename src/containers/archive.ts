import { lstat, readlink, stat } from 'node:fs/promises'
import { join, posix } from 'node:path'
import type { Readable } from 'node:stream'
import { CaisError, invalid, isErrno, notFound } from '../lib/errors.ts'
import { extractTar, packDirectory, packPath } from '../lib/tar.ts'
import type { VolumeService } from '../volumes/service.ts'
import type { MountPoint } from './mounts.ts'

/** What `X-Docker-Container-Path-Stat` carries, base64 JSON. */
export interface PathStat {
  name: string
  size: number
  /** Go's os.FileMode bits: permission bits plus type flags (directory 1<<31, symlink 1<<27). */
  mode: number
  mtime: string
  linkTarget: string
}

/**
 * A container's filesystem seen from the host, as the container sees it: its root (the merged overlay), and its
 * bind and volume mounts at their destinations. tmpfs mounts exist only inside the container and are refused.
 */
export interface ContainerFs {
  root: string
  mounts: readonly MountPoint[]
  volumes: VolumeService
}

const maxLinks = 40

/**
 * Resolves a container path to a host path without ever leaving the container's filesystem: `..` stops at its
 * root, and symlinks — absolute or relative — are followed inside it, as the kernel would inside the container.
 * The last component is followed only with `followLast` (`docker cp` copies a symlink itself, not its target).
 * Returns the host path and the clean container path it stands for.
 */
export async function resolveInContainer(fs: ContainerFs, path: string, followLast: boolean): Promise<{ host: string; container: string }> {
  if (!path.startsWith('/')) throw invalid(`Could not find the file ${path} in container: the path must be absolute`)
  const resolved: string[] = []
  const pending = path.split('/').filter((p) => p !== '' && p !== '.')
  let links = 0
  while (pending.length > 0) {
    const part = pending.shift()!
    if (part === '..') {
      resolved.pop()
      continue
    }
    const candidate = [...resolved, part]
    const isLast = pending.length === 0
    if (!isLast || followLast) {
      const host = hostPath(fs, `/${candidate.join('/')}`)
      const st = await lstat(host).catch(() => undefined)
      if (st?.isSymbolicLink()) {
        if (++links > maxLinks) throw invalid(`too many levels of symbolic links: ${path}`)
        const target = await readlink(host)
        if (target.startsWith('/')) resolved.length = 0
        pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'))
        continue
      }
    }
    resolved.push(part)
  }
  const container = `/${resolved.join('/')}`
  return { host: hostPath(fs, container), container }
}

/** The host path of a clean container path: under the deepest mount that holds it, else under the root. */
function hostPath(fs: ContainerFs, containerPath: string): string {
  const mount = [...fs.mounts]
    .filter((m) => containerPath === m.destination || containerPath.startsWith(`${m.destination.replace(/\/$/, '')}/`))
    .sort((a, b) => b.destination.length - a.destination.length)[0]
  if (!mount) return join(fs.root, containerPath)
  if (mount.type === 'tmpfs') throw new CaisError('not-implemented', `copying to or from the tmpfs mount at ${mount.destination} is not supported`)
  const base = mount.type === 'volume' ? join(fs.volumes.mountpoint(mount.source), mount.subpath ?? '') : mount.source
  return join(base, containerPath.slice(mount.destination.replace(/\/$/, '').length))
}

/** `HEAD /containers/{id}/archive`: the stat of a path; a last symlink is followed only for `dir/` or `dir/.`. */
export async function statPath(fs: ContainerFs, path: string): Promise<PathStat> {
  return (await statResolved(fs, path)).stat
}

async function statResolved(fs: ContainerFs, path: string): Promise<{ stat: PathStat; host: string }> {
  const { host, container } = await resolveInContainer(fs, path, path.endsWith('/') || path.endsWith('/.'))
  const st = await lstat(host).catch((err: unknown) => {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) throw notFound(`Could not find the file ${path} in container`)
    throw err
  })
  const typeBits = st.isDirectory() ? 2 ** 31 : st.isSymbolicLink() ? 2 ** 27 : 0
  const stat = {
    name: posix.basename(container) || '/',
    size: st.size,
    mode: typeBits + (st.mode & 0o777),
    mtime: st.mtime.toISOString(),
    linkTarget: st.isSymbolicLink() ? await readlink(host) : '',
  }
  return { stat, host }
}

/**
 * `GET /containers/{id}/archive`: a tar of one file or directory, entries named from its base name (`dir/`,
 * `dir/file`), as Docker's. A path ending in `/.` copies a directory's contents.
 */
export async function readArchive(fs: ContainerFs, path: string): Promise<{ stat: PathStat; tar: Readable }> {
  const contentsOnly = path.endsWith('/.')
  const { stat: info, host } = await statResolved(fs, contentsOnly ? path.slice(0, -2) || '/' : path)
  const tar = contentsOnly ? packDirectory(host) : packPath(host, info.name)
  return { stat: info, tar }
}

/**
 * `PUT /containers/{id}/archive`: unpacks a tar into a directory of the container. The directory must exist;
 * no entry can leave it or write through a symlink. Without `keepOwner` the files belong to root, as Docker's.
 */
export async function writeArchive(fs: ContainerFs, path: string, body: Readable, opts: { keepOwner: boolean }): Promise<void> {
  const { host } = await resolveInContainer(fs, path, true)
  const st = await stat(host).catch((err: unknown) => {
    if (isErrno(err, 'ENOENT')) throw notFound(`Could not find the file ${path} in container`)
    throw err
  })
  if (!st.isDirectory()) throw invalid(`extraction point is not a directory`)
  await extractTar(body, host, opts.keepOwner ? {} : { owner: { uid: 0, gid: 0 } }).catch((err: unknown) => {
    throw err instanceof CaisError ? err : invalid(`Error processing tar file: ${(err as Error).message}`, err)
  })
}
