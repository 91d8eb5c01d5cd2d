import { lstat, readlink, stat } from 'node:fs/promises'
import { join, posix } from 'node:path'
import type { Readable } from 'node:stream'
import { CaisError, invalid, isErrno, notFound } from '../lib/errors.ts'
import { resolveScoped } from '../lib/scoped-path.ts'
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
  /** `--read-only`: the root takes no copy, its writable mounts do. */
  readOnlyRoot?: boolean
  /** Where each image mount's files are on the host. */
  imageFiles?: ReadonlyMap<MountPoint, string>
}

/**
 * Resolves a container path to a host path without ever leaving the container's filesystem (resolveScoped), its
 * mounts included. Returns the host path and the clean container path it stands for.
 */
export async function resolveInContainer(fs: ContainerFs, path: string, followLast: boolean): Promise<{ host: string; container: string }> {
  if (!path.startsWith('/')) throw invalid(`Could not find the file ${path} in container: the path must be absolute`)
  const { host, inside } = await resolveScoped(path, (clean) => hostPath(fs, clean), followLast)
  return { host, container: inside }
}

/** The deepest mount that holds a clean container path, if any. */
function mountAt(fs: ContainerFs, containerPath: string): MountPoint | undefined {
  return [...fs.mounts]
    .filter((m) => containerPath === m.destination || containerPath.startsWith(`${m.destination.replace(/\/$/, '')}/`))
    .sort((a, b) => b.destination.length - a.destination.length)[0]
}

/** The host path of a clean container path: under the deepest mount that holds it, else under the root. */
function hostPath(fs: ContainerFs, containerPath: string): string {
  const mount = mountAt(fs, containerPath)
  if (!mount) return join(fs.root, containerPath)
  if (mount.type === 'tmpfs') throw new CaisError('not-implemented', `copying to or from the tmpfs mount at ${mount.destination} is not supported`)
  const files = mount.type === 'image' ? fs.imageFiles?.get(mount) : undefined
  if (mount.type === 'image' && files === undefined) throw new CaisError('not-implemented', `copying to or from the image mount at ${mount.destination} is not supported`)
  const base = mount.type === 'volume' ? join(fs.volumes.mountpoint(mount.source), mount.subpath ?? '') : files !== undefined ? join(files, mount.subpath ?? '') : mount.source
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
  const { host, container } = await resolveInContainer(fs, path, true)
  // As Docker: a read-only mount refuses, and a read-only root refuses what is not in a writable mount. Debian's
  // dockerd (API 1.41) answers both with a 500; the first is answered so here, the second with later releases' 403.
  const mount = mountAt(fs, container)
  if (mount && !mount.rw) throw new Error('mounted volume is marked read-only')
  if (!mount && fs.readOnlyRoot) throw new CaisError('forbidden', 'container rootfs is marked read-only')
  const st = await stat(host).catch((err: unknown) => {
    if (isErrno(err, 'ENOENT')) throw notFound(`Could not find the file ${path} in container`)
    throw err
  })
  if (!st.isDirectory()) throw invalid(`extraction point is not a directory`)
  await extractTar(body, host, opts.keepOwner ? {} : { owner: { uid: 0, gid: 0 } }).catch((err: unknown) => {
    throw err instanceof CaisError ? err : invalid(`Error processing tar file: ${(err as Error).message}`, err)
  })
}
