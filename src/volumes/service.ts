import { randomBytes } from 'node:crypto'
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { EventBus } from '../events/bus.ts'
import { CaisError, conflict, invalid, isErrno, notFound } from '../lib/errors.ts'
import { diskUsage } from '../lib/disk-usage.ts'
import { execFile } from '../lib/exec.ts'
import type { Filters } from '../lib/filters.ts'
import { matchLabels } from '../lib/filters.ts'
import { newId } from '../lib/ids.ts'
import { removeTempFiles, writeJsonAtomic } from '../store/atomic.ts'
import { type BrokenRecord, type StoreProblem, brokenProblems, hasStrings, readRecord } from '../store/records.ts'
import { isMounted } from '../lib/mountinfo.ts'
import type { Mounter } from '../lib/mounter.ts'
import type { VolumeRecord, VolumeView } from './volume.ts'

const nameRe = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

/** Who uses volumes: containers, by name. */
export interface VolumeUsers {
  containersUsingVolume(name: string): string[]
}

/** Named and anonymous volumes of the `local` driver, each a directory (or a mount of its options) under --root. */
export class VolumeService {
  readonly #dir: string
  readonly #events: EventBus
  readonly #users: () => VolumeUsers
  readonly #mounter: Mounter
  readonly records = new Map<string, VolumeRecord>()
  /** Record files found unusable at start: left in place, reported by `system check`. */
  readonly broken: BrokenRecord[] = []

  constructor(deps: { dir: string; events: EventBus; mounter: Mounter; users: () => VolumeUsers }) {
    this.#dir = deps.dir
    this.#events = deps.events
    this.#mounter = deps.mounter
    this.#users = deps.users
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o701 })
    for (const name of await readdir(this.#dir)) {
      // A removal a crash cut short: finished now.
      if (name.startsWith('.') && name.endsWith('.removing')) {
        await rm(join(this.#dir, name), { recursive: true, force: true })
        continue
      }
      await removeTempFiles(join(this.#dir, name))
      const path = join(this.#dir, name, 'volume.json')
      const read = await readRecord<VolumeRecord>(path, (x) => hasStrings(x, 'name', 'driver'))
      if ('record' in read) this.records.set(read.record.name, read.record)
      else if ('broken' in read) this.broken.push({ kind: 'volume', path, reason: read.broken })
      else if ((await readdir(this.mountpoint(name)).catch(() => [])).length > 0) this.broken.push({ kind: 'volume', path, reason: 'record missing; its data is kept' })
      // A create that never wrote its record left an empty directory.
      else await rm(join(this.#dir, name), { recursive: true, force: true })
    }
  }

  /** Each volume's data directory, and the records found broken at start (`repair` sets the whole volume aside). */
  async check(repair: { root: string } | undefined): Promise<{ checked: number; problems: StoreProblem[] }> {
    const problems = await brokenProblems(this.broken, repair, (r) => dirname(r.path))
    for (const rec of this.records.values()) {
      if (rec.options['type']) continue
      if (!(await stat(this.mountpoint(rec.name)).then((s) => s.isDirectory(), () => false))) problems.push({ object: 'volume', id: rec.name, problem: 'its data directory is missing' })
    }
    return { checked: this.records.size, problems }
  }

  mountpoint(name: string): string {
    return join(this.#dir, name, '_data')
  }

  get(name: string): VolumeRecord {
    const rec = this.records.get(name)
    if (!rec) throw notFound(`get ${name}: no such volume`)
    return rec
  }

  /** Creates a volume, or returns the existing one of that name (as Docker). */
  async create(opts: { name?: string | undefined; driver?: string | undefined; options?: Record<string, string> | null | undefined; labels?: Record<string, string> | null | undefined; anonymous?: boolean }): Promise<VolumeRecord> {
    const name = opts.name || newId()
    if (opts.driver && opts.driver !== 'local') throw notFound(`create ${name}: error looking up volume plugin ${opts.driver}: plugin "${opts.driver}" not found`)
    if (!nameRe.test(name)) {
      throw invalid(
        name.length < 2
          ? `create ${name}: volume name is too short, names should be at least two alphanumeric characters`
          : `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      )
    }
    const existing = this.records.get(name)
    if (existing) return existing
    const options = opts.options ?? {}
    for (const key of Object.keys(options)) {
      if (!['type', 'device', 'o', 'size'].includes(key)) throw invalid(`create ${name}: invalid option key: "${key}"`)
    }
    if ((options['type'] || options['device']) && !options['type']) throw invalid(`create ${name}: missing required option: "type"`)
    const rec: VolumeRecord = {
      name,
      driver: 'local',
      createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      labels: opts.labels ?? {},
      options,
      anonymous: opts.anonymous ?? !opts.name,
    }
    await mkdir(this.mountpoint(name), { recursive: true, mode: 0o755 })
    await writeJsonAtomic(join(this.#dir, name, 'volume.json'), rec)
    this.records.set(name, rec)
    this.#events.emit('volume', 'create', name, { driver: 'local' })
    return rec
  }

  /** Whether the volume's data is a mount of its options (device, tmpfs, nfs) rather than a plain directory. */
  needsMount(name: string): boolean {
    return Boolean(this.get(name).options['type'])
  }

  /** Makes the volume's data available at its mountpoint (mounting a device/tmpfs/nfs per its options). */
  async mount(name: string, containerId: string): Promise<string> {
    const rec = this.get(name)
    const target = this.mountpoint(name)
    const o = rec.options
    if (o['type'] && !(await isMounted(target))) {
      const args = ['-t', o['type']]
      const mountOpts = [o['o'], o['size'] ? `size=${o['size']}` : undefined].filter(Boolean).join(',')
      if (mountOpts) args.push('-o', mountOpts)
      args.push(o['device'] || o['type'], target)
      const r = await execFile('mount', args)
      if (r.code !== 0) throw new CaisError('invalid', `error while mounting volume '${target}': ${r.stderr.trim()}`)
    }
    this.#events.emit('volume', 'mount', name, { container: containerId, driver: 'local', destination: '', 'read/write': 'true', propagation: '' })
    return target
  }

  /** Unmounts a volume with mount options once no running container uses it. */
  async unmount(name: string, containerId: string, stillUsed: boolean): Promise<void> {
    const rec = this.records.get(name)
    if (!rec) return
    if (rec.options['type'] && !stillUsed) await this.#mounter.unmount(this.mountpoint(name))
    this.#events.emit('volume', 'unmount', name, { container: containerId, driver: 'local' })
  }

  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    const rec = this.records.get(name)
    if (!rec) {
      if (opts.force) return
      throw notFound(`get ${name}: no such volume`)
    }
    const users = this.#users().containersUsingVolume(name)
    if (users.length > 0) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`)
    await this.#mounter.unmount(this.mountpoint(name)).catch(() => {})
    this.records.delete(name)
    // Renamed away first, in one step: deleted in place, a crash could leave the record without its data (rm takes
    // `_data` before `volume.json`). The leading dot makes a name no volume can have.
    const doomed = join(this.#dir, `.${name}.${randomBytes(4).toString('hex')}.removing`)
    const renamed = await rename(join(this.#dir, name), doomed).then(
      () => true,
      (err: unknown) => {
        if (isErrno(err, 'ENOENT')) return false
        throw err
      },
    )
    if (renamed) await rm(doomed, { recursive: true, force: true })
    this.#events.emit('volume', 'destroy', name, { driver: 'local' })
  }

  list(filters: Filters): VolumeView[] {
    const dangling = filters.get('dangling')?.[0]
    return [...this.records.values()]
      .filter((v) => {
        if (dangling !== undefined && (dangling === 'true' || dangling === '1') !== (this.#users().containersUsingVolume(v.name).length === 0)) return false
        const names = filters.get('name')
        if (names && !names.some((n) => v.name.includes(n))) return false
        const drivers = filters.get('driver')
        if (drivers && !drivers.includes(v.driver)) return false
        return matchLabels(filters.get('label'), v.labels)
      })
      .map((v) => this.view(v.name))
  }

  view(name: string, usage = false): VolumeView {
    const v = this.get(name)
    const view: VolumeView = {
      Name: v.name,
      Driver: v.driver,
      Mountpoint: this.mountpoint(v.name),
      CreatedAt: v.createdAt,
      Labels: v.labels,
      Scope: 'local',
      Options: Object.keys(v.options).length > 0 ? v.options : null,
    }
    if (usage) view.UsageData = { Size: -1, RefCount: this.#users().containersUsingVolume(name).length }
    return view
  }

  /** Every volume with its size on disk and how many containers refer to it (`system df`). */
  async usage(): Promise<VolumeView[]> {
    const out: VolumeView[] = []
    for (const name of this.records.keys()) {
      const view = this.view(name, true)
      view.UsageData = { Size: await diskUsage(this.mountpoint(name)), RefCount: this.#users().containersUsingVolume(name).length }
      out.push(view)
    }
    return out
  }

  /** Removes unused volumes: anonymous ones only, unless `all`. Returns the names and bytes reclaimed. */
  async prune(filters: Filters): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const all = ['true', '1'].includes(filters.get('all')?.[0] ?? '')
    const deleted: string[] = []
    let space = 0
    for (const v of [...this.records.values()]) {
      if (!all && !v.anonymous) continue
      if (!matchLabels(filters.get('label'), v.labels)) continue
      const notLabels = filters.get('label!') ?? []
      if (notLabels.length > 0 && !notLabels.every((l) => !matchLabels([l], v.labels))) continue
      if (this.#users().containersUsingVolume(v.name).length > 0) continue
      space += await diskUsage(this.mountpoint(v.name))
      await this.remove(v.name)
      deleted.push(v.name)
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: space }
  }
}
