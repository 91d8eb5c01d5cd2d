/**
 * What an image's layers do to its file tree, from the entries of each layer's tar: which files a layer adds,
 * modifies or deletes (whiteouts `.wh.NAME` and opaque directories `.wh..wh..opq` understood), which layer each
 * file of the merged tree comes from, and the space wasted on files that a later layer overwrites or deletes.
 *
 * Waste and efficiency are counted the way dive counts them: every path that occurs in more than one layer (a
 * deletion occurs with the size it deleted) wastes all of its occurrences' bytes, and the efficiency is the
 * smallest occurrence of each path over the sum of all occurrences.
 */

export type EntryKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other'

/** One entry of a layer's tar, as read: whiteouts still under their `.wh.` names. */
export interface LayerEntry {
  path: string
  size: number
  kind: EntryKind
  /** Symlink or hard-link target. */
  link?: string
}

export type Mark = 'added' | 'modified' | 'deleted'

export interface MarkedEntry {
  path: string
  size: number
  kind: EntryKind
  mark: Mark
  link?: string
}

export interface MergedEntry {
  path: string
  size: number
  kind: EntryKind
  /** Index of the layer the file comes from. */
  layer: number
}

export interface Inefficiency {
  path: string
  /** Layers the path occurs in (added, changed or deleted). */
  count: number
  bytes: number
}

export interface LayerAnalysis {
  layers: Array<{ entries: MarkedEntry[]; bytes: number }>
  merged: MergedEntry[]
  /** Bytes of every occurrence of paths that occur in more than one layer. */
  wastedBytes: number
  /** 0–1: the least each path needs over what all its occurrences take. */
  efficiency: number
  inefficiencies: Inefficiency[]
}

const whiteoutPrefix = '.wh.'
const opaqueMarker = '.wh..wh..opq'

const parentOf = (path: string): string => {
  const slash = path.lastIndexOf('/')
  return slash < 0 ? '' : path.slice(0, slash)
}
const baseOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1)
const join = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`)

/** `./a/b/`, `/a/b` and `a/b` are one path: `a/b`. */
export function cleanPath(name: string): string {
  return name
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/')
}

export function analyseLayers(layers: LayerEntry[][]): LayerAnalysis {
  const merged = new Map<string, MergedEntry>()
  const occurrences = new Map<string, { count: number; total: number; min: number }>()
  const occur = (path: string, size: number): void => {
    const o = occurrences.get(path)
    if (!o) occurrences.set(path, { count: 1, total: size, min: size })
    else {
      o.count++
      o.total += size
      o.min = Math.min(o.min, size)
    }
  }
  /** Removes a path and everything under it from the merged tree; returns what it removed and the bytes. */
  const removeTree = (path: string, keepSelf: boolean): { removed: MergedEntry[]; bytes: number } => {
    const removed: MergedEntry[] = []
    const prefix = `${path}/`
    for (const [p, e] of merged) {
      if ((p === path && !keepSelf) || p.startsWith(prefix)) {
        removed.push(e)
        merged.delete(p)
      }
    }
    return { removed, bytes: removed.reduce((n, e) => n + e.size, 0) }
  }

  const result: LayerAnalysis['layers'] = []
  layers.forEach((entries, index) => {
    const marked: MarkedEntry[] = []
    // Whiteouts apply to the layers below, so they go first: a layer may delete a path and make it again.
    const ordered = [...entries].sort((a, b) => Number(isWhiteout(b.path)) - Number(isWhiteout(a.path)))
    for (const e of ordered) {
      const path = cleanPath(e.path)
      if (path === '') continue
      const base = baseOf(path)
      if (base === opaqueMarker) {
        const dir = parentOf(path)
        for (const gone of removeTree(dir, true).removed) {
          marked.push({ path: gone.path, size: gone.size, kind: gone.kind, mark: 'deleted' })
          occur(gone.path, gone.size)
        }
        continue
      }
      if (base.startsWith(whiteoutPrefix)) {
        const target = join(parentOf(path), base.slice(whiteoutPrefix.length))
        const below = merged.get(target)
        const { bytes } = removeTree(target, false)
        marked.push({ path: target, size: bytes, kind: below?.kind ?? 'other', mark: 'deleted' })
        occur(target, bytes)
        continue
      }
      const existed = merged.has(path)
      // A file or link that replaces a directory replaces what was in it too.
      if (existed && e.kind !== 'dir') removeTree(path, true)
      merged.set(path, { path, size: e.size, kind: e.kind, layer: index })
      marked.push({ path, size: e.size, kind: e.kind, mark: existed ? 'modified' : 'added', ...(e.link !== undefined ? { link: e.link } : {}) })
      occur(path, e.size)
    }
    marked.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    result.push({ entries: marked, bytes: marked.reduce((n, e) => n + (e.mark === 'deleted' ? 0 : e.size), 0) })
  })

  let wastedBytes = 0
  let least = 0
  let all = 0
  const inefficiencies: Inefficiency[] = []
  for (const [path, o] of occurrences) {
    least += o.min
    all += o.total
    if (o.count > 1) {
      wastedBytes += o.total
      inefficiencies.push({ path, count: o.count, bytes: o.total })
    }
  }
  inefficiencies.sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : 1))
  return {
    layers: result,
    merged: [...merged.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    wastedBytes,
    efficiency: all === 0 ? 1 : least / all,
    inefficiencies,
  }
}

const isWhiteout = (path: string): boolean => baseOf(cleanPath(path)).startsWith(whiteoutPrefix)
