import { existsSync, statSync } from 'node:fs'
import { mkdir, readdir, rm, stat, chown, chmod } from 'node:fs/promises'
import { isAbsolute, join, posix } from 'node:path'
import { invalid, notFound } from '../lib/errors.ts'
import { execFile } from '../lib/exec.ts'
import type { Digest } from '../content/digest.ts'
import type { OciMount } from '../runtime/spec.ts'
import type { VolumeService } from '../volumes/service.ts'

/** One mount of a container, resolved at create: a host path, a volume (by name), a tmpfs or an image's files. */
export interface MountPoint {
  type: 'bind' | 'volume' | 'tmpfs' | 'image'
  /** Host path (bind), volume name (volume), empty (tmpfs), the image as named (image). */
  source: string
  destination: string
  rw: boolean
  /** The mode string as given (`ro`, `z`, `rw,Z`), shown in inspect. */
  mode: string
  propagation: string
  noCopy?: boolean
  subpath?: string
  tmpfsOptions?: string[]
  /** An image mount's image and its top layer (kept while a container has it). */
  image?: Digest
  imageTop?: Digest | null
}

/** Mounts in the order they are made: those nearer the root first, so a mount inside another goes on top of it. */
const mountOrder = (mounts: readonly MountPoint[]): MountPoint[] => [...mounts].sort((a, b) => a.destination.split('/').length - b.destination.split('/').length)

/** Each image mount's index among the container's, which names its host dir (RootfsManager.mountImage). */
export function imageMountIndexes(mounts: readonly MountPoint[]): Map<MountPoint, number> {
  const images = mountOrder(mounts).filter((m) => m.type === 'image')
  return new Map(images.map((m, i) => [m, i]))
}

/** An image as an image mount needs it. */
export type ImageResolver = (ref: string) => { id: Digest; top: Digest | null }

export interface MountRequest {
  binds: string[]
  mounts: Array<Record<string, unknown>>
  tmpfs: Record<string, string>
  /** Anonymous volume paths: `-v /path` and the image's VOLUME entries. */
  volumes: string[]
  /** Mounts of other containers (`--volumes-from ctr[:ro|:rw]`), already looked up. */
  from: Array<{ mounts: MountPoint[]; mode: string }>
  images: ImageResolver
}

const propagations = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']

/** Resolves a create request's mounts, creating named and anonymous volumes and missing `-v` host dirs. */
export async function resolveMounts(req: MountRequest, volumes: VolumeService): Promise<MountPoint[]> {
  const out = new Map<string, MountPoint>()
  const add = (m: MountPoint, overridable = false): void => {
    const dest = posix.normalize(m.destination).replace(/(.)\/$/, '$1')
    if (out.has(dest)) {
      if (overridable) return
      throw invalid(`Duplicate mount point: ${dest}`)
    }
    out.set(dest, { ...m, destination: dest })
  }

  for (const spec of req.binds) add(await parseBind(spec, volumes))
  for (const raw of req.mounts) add(await parseMount(raw, volumes, req.images))
  for (const [dest, opts] of Object.entries(req.tmpfs)) {
    if (!isAbsolute(dest)) throw invalid(`invalid mount config for type "tmpfs": invalid mount path: '${dest}' mount path must be absolute`)
    const options = opts ? opts.split(',') : []
    add({ type: 'tmpfs', source: '', destination: dest, rw: !options.includes('ro'), mode: opts, propagation: '', tmpfsOptions: options.filter((o) => o !== 'ro' && o !== 'rw') })
  }
  for (const from of req.from) {
    for (const m of from.mounts) add({ ...m, rw: from.mode === 'ro' ? false : from.mode === 'rw' ? true : m.rw }, true)
  }
  for (const dest of req.volumes) {
    if (!isAbsolute(dest)) throw invalid(`invalid volume specification: '${dest}': invalid mount config for type "volume": invalid mount path: '${dest}' mount path must be absolute`)
    if (out.has(posix.normalize(dest).replace(/(.)\/$/, '$1'))) continue
    const vol = await volumes.create({ anonymous: true })
    add({ type: 'volume', source: vol.name, destination: dest, rw: true, mode: '', propagation: '' }, true)
  }
  return [...out.values()]
}

async function parseBind(spec: string, volumes: VolumeService): Promise<MountPoint> {
  const parts = spec.split(':')
  if (parts.length < 2 || parts.length > 3 || parts.some((p, i) => p === '' && i < 2)) throw invalid(`invalid volume specification: '${spec}'`)
  const [source, destination, mode = ''] = parts as [string, string, string?]
  if (!isAbsolute(destination)) {
    throw invalid(`invalid volume specification: '${spec}': invalid mount config for type "bind": invalid mount path: '${destination}' mount path must be absolute`)
  }
  const flags = mode ? mode.split(',') : []
  for (const f of flags) {
    if (!['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated', ...propagations].includes(f)) throw invalid(`invalid mode: ${mode}`)
  }
  const rw = !flags.includes('ro')
  const propagation = flags.find((f) => propagations.includes(f)) ?? 'rprivate'
  if (isAbsolute(source)) {
    // `-v` creates a missing host directory, as Docker does (`--mount` refuses instead).
    if (!existsSync(source)) await mkdir(source, { recursive: true, mode: 0o755 })
    return { type: 'bind', source, destination, rw, mode, propagation }
  }
  if (source.startsWith('.') || source.includes('/')) {
    throw invalid(`invalid volume specification: '${spec}': "${source}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`)
  }
  await volumes.create({ name: source })
  return { type: 'volume', source, destination, rw, mode, propagation: '', noCopy: flags.includes('nocopy') }
}

async function parseMount(m: Record<string, unknown>, volumes: VolumeService, images: ImageResolver): Promise<MountPoint> {
  const type = m['Type'] as string | undefined
  const target = (m['Target'] as string | undefined) ?? ''
  const source = (m['Source'] as string | undefined) ?? ''
  const ro = m['ReadOnly'] === true
  if (!target) throw invalid(`invalid mount config for type "${type}": field Target must not be empty`)
  if (!isAbsolute(target)) throw invalid(`invalid mount config for type "${type}": invalid mount path: '${target}' mount path must be absolute`)
  switch (type) {
    case 'bind': {
      if (!source) throw invalid('invalid mount config for type "bind": field Source must not be empty')
      if (!isAbsolute(source)) throw invalid(`invalid mount config for type "bind": invalid mount path: '${source}' mount path must be absolute`)
      if (!existsSync(source)) throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${source}`)
      const prop = ((m['BindOptions'] as Record<string, unknown> | undefined)?.['Propagation'] as string | undefined) || 'rprivate'
      if (!propagations.includes(prop)) throw invalid(`invalid mount config for type "bind": invalid propagation mode: ${prop}`)
      return { type: 'bind', source, destination: target, rw: !ro, mode: '', propagation: prop }
    }
    case 'volume': {
      const vo = (m['VolumeOptions'] as Record<string, unknown> | undefined) ?? {}
      const driverConfig = vo['DriverConfig'] as { Name?: string; Options?: Record<string, string> } | undefined
      const vol = await volumes.create({
        name: source || undefined,
        anonymous: !source,
        driver: driverConfig?.Name || undefined,
        options: driverConfig?.Options,
        labels: vo['Labels'] as Record<string, string> | undefined,
      })
      const subpath = vo['Subpath'] as string | undefined
      if (subpath && (isAbsolute(subpath) || posix.normalize(subpath).startsWith('..'))) throw invalid(`invalid mount config for type "volume": subpath must be a relative path within the volume`)
      const mp: MountPoint = { type: 'volume', source: vol.name, destination: target, rw: !ro, mode: '', propagation: '', noCopy: vo['NoCopy'] === true }
      if (subpath) mp.subpath = subpath
      return mp
    }
    case 'tmpfs': {
      if (source) throw invalid('invalid mount config for type "tmpfs": field Source must not be specified')
      const to = (m['TmpfsOptions'] as Record<string, unknown> | undefined) ?? {}
      const options: string[] = []
      if (typeof to['SizeBytes'] === 'number' && to['SizeBytes'] > 0) options.push(`size=${to['SizeBytes']}`)
      if (typeof to['Mode'] === 'number') options.push(`mode=${(to['Mode'] & 0o7777).toString(8)}`)
      return { type: 'tmpfs', source: '', destination: target, rw: !ro, mode: '', propagation: '', tmpfsOptions: options }
    }
    case 'image': {
      if (!source) throw invalid('invalid mount config for type "image": field Source must not be empty')
      const subpath = (m['ImageOptions'] as { Subpath?: string } | null | undefined)?.Subpath
      if (subpath && (isAbsolute(subpath) || posix.normalize(subpath).startsWith('..'))) throw invalid('invalid mount config for type "image": subpath must be a relative path within the image')
      const { id, top } = images(source)
      // An image's files are mounted read-only, whatever ReadOnly says.
      return { type: 'image', source, destination: target, rw: false, mode: '', propagation: 'rprivate', image: id, imageTop: top, ...(subpath ? { subpath } : {}) }
    }
    default:
      throw invalid(`invalid mount config: mount type unknown: "${type ?? ''}"`)
  }
}

/**
 * Prepares the container's mounts for a start and returns them as OCI mounts. An empty volume mounted
 * over a path the image fills is first given the image's files, owner and mode (Docker's copy-up).
 */
export async function prepareMounts(
  mounts: readonly MountPoint[],
  rootfs: string,
  containerId: string,
  volumes: VolumeService,
  /** Mounts an image mount's files on the host (read-only), returning where; `index` tells the container's apart. */
  mountImage: (m: MountPoint, index: number) => Promise<string>,
): Promise<OciMount[]> {
  const oci: OciMount[] = []
  const imageIndexes = imageMountIndexes(mounts)
  for (const m of mountOrder(mounts)) {
    if (m.type === 'tmpfs') {
      oci.push({ destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...(m.rw ? [] : ['ro']), ...(m.tmpfsOptions ?? [])] })
      continue
    }
    let source = m.source
    if (m.type === 'image') {
      const files = await mountImage(m, imageIndexes.get(m)!)
      source = m.subpath ? join(files, m.subpath) : files
      if (m.subpath && !existsSync(source)) throw notFound(`cannot access path ${source}: subpath does not exist in the image`)
    } else if (m.type === 'volume') {
      const data = await volumes.mount(m.source, containerId)
      source = m.subpath ? join(data, m.subpath) : data
      if (m.subpath && !existsSync(source)) throw notFound(`cannot access path ${source}: subpath does not exist in the volume`)
      if (!m.noCopy && !m.subpath) await copyUp(join(rootfs, m.destination), data)
    } else if (!existsSync(source)) {
      throw notFound(`bind source path does not exist: ${source}`)
    }
    const options = ['rbind', m.type === 'bind' ? m.propagation || 'rprivate' : 'rprivate']
    if (!m.rw) options.push('ro')
    oci.push({ destination: m.destination, type: 'bind', source, options })
  }
  return oci
}

/**
 * Copy-up at create, as Docker's: each new, empty plain volume (no device options) gets the image's files now, so
 * what a client puts into it before the first start (`docker cp` to a created container) lands beside them rather
 * than stopping the copy. Volumes that need mounting are given theirs at start. `rootfs` is the mounted root.
 */
export async function copyUpAtCreate(mounts: readonly MountPoint[], rootfs: string, volumes: VolumeService): Promise<void> {
  for (const m of mounts) {
    if (m.type !== 'volume' || m.noCopy || m.subpath || volumes.needsMount(m.source)) continue
    await copyUp(join(rootfs, m.destination), volumes.mountpoint(m.source))
  }
}

/** Whether `copyUpAtCreate` has anything to consider: a volume mount that copy-up may fill. */
export const mayCopyUp = (mounts: readonly MountPoint[]): boolean => mounts.some((m) => m.type === 'volume' && !m.noCopy && !m.subpath)

async function copyUp(imagePath: string, volumeData: string): Promise<void> {
  if ((await readdir(volumeData)).length > 0) return
  let st
  try {
    st = statSync(imagePath)
  } catch {
    return
  }
  if (!st.isDirectory()) return
  if ((await readdir(imagePath)).length > 0) {
    const copied = await execFile('cp', ['-a', `${imagePath}/.`, `${volumeData}/`])
    if (copied.code !== 0) {
      // The volume was empty: a partial copy goes, so the next start copies again rather than keeping half.
      for (const name of await readdir(volumeData)) await rm(join(volumeData, name), { recursive: true, force: true })
      const reason = /No space left on device/.test(copied.stderr) ? 'no space left on device' : copied.stderr.trim().split('\n').at(-1) || `cp exit status ${copied.code}`
      throw new Error(`copying the image's files to the volume at ${volumeData}: ${reason}`)
    }
  }
  const s = await stat(imagePath)
  await chown(volumeData, s.uid, s.gid)
  await chmod(volumeData, s.mode & 0o7777)
}

/** The inspect view of a mount. */
export function mountView(m: MountPoint, volumes: VolumeService): Record<string, unknown> {
  if (m.type === 'volume') {
    return { Type: 'volume', Name: m.source, Source: volumes.mountpoint(m.source), Destination: m.destination, Driver: 'local', Mode: m.mode || 'z', RW: m.rw, Propagation: '' }
  }
  if (m.type === 'tmpfs') return { Type: 'tmpfs', Source: '', Destination: m.destination, Mode: m.mode, RW: m.rw, Propagation: '' }
  if (m.type === 'image') return { Type: 'image', Source: m.source, Destination: m.destination, Mode: '', RW: false, Propagation: m.propagation }
  return { Type: 'bind', Source: m.source, Destination: m.destination, Mode: m.mode, RW: m.rw, Propagation: m.propagation }
}
