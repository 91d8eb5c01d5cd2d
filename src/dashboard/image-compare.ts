import type { EntryKind, MergedEntry } from './layer-analysis.ts'

export interface ComparedFile {
  path: string
  kind: EntryKind
  /** In the second image; for a removed file, in the first. */
  size: number
  /** The size in the first image, for a modified file. */
  sizeBefore?: number
}

export interface ImageComparison {
  /** Layers both images have (by digest), in the first image's order. */
  sharedLayers: string[]
  /** Bytes of the second image's files that come from layers the first one has too. */
  sharedBytes: number
  added: ComparedFile[]
  removed: ComparedFile[]
  /** Present in both but from different layers, with another size, kind or link, or (same size) other content. */
  modified: ComparedFile[]
}

export interface ComparedImage {
  layers: Array<{ digest: string }>
  merged: Array<MergedEntry & { link?: string }>
}

/**
 * What changed from image `a` to image `b`, file by file over their merged trees. A path whose file comes from the
 * same layer (by digest) in both is unchanged; one from different layers counts as modified: the index keeps sizes,
 * not contents, so a file rewritten with the same size is still shown as changed (as a rebuilt layer would make it).
 */
export function compareImages(a: ComparedImage, b: ComparedImage): ImageComparison {
  const digestsB = new Set(b.layers.map((l) => l.digest))
  const sharedLayers = [...new Set(a.layers.map((l) => l.digest).filter((d) => digestsB.has(d)))]
  const inA = new Map(a.merged.map((e) => [e.path, e]))
  const inB = new Map(b.merged.map((e) => [e.path, e]))
  const added: ComparedFile[] = []
  const removed: ComparedFile[] = []
  const modified: ComparedFile[] = []
  let sharedBytes = 0
  for (const [path, eb] of inB) {
    const ea = inA.get(path)
    if (!ea) {
      added.push({ path, kind: eb.kind, size: eb.size })
      continue
    }
    if (a.layers[ea.layer]?.digest === b.layers[eb.layer]?.digest) {
      sharedBytes += eb.size
      continue
    }
    if (ea.kind === 'dir' && eb.kind === 'dir') continue
    modified.push({ path, kind: eb.kind, size: eb.size, sizeBefore: ea.size })
  }
  for (const [path, ea] of inA) if (!inB.has(path)) removed.push({ path, kind: ea.kind, size: ea.size })
  return { sharedLayers, sharedBytes, added, removed, modified }
}
