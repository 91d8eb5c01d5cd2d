import { link, rm, writeFile } from 'node:fs/promises'
import type { Digest } from '../content/digest.ts'
import { type FilesystemStorage, gcLockHolder } from './storage.ts'

export interface GcOptions {
  dryRun: boolean
  /** Also delete manifests no tag reaches (nor a tagged index, nor as a referrer of a kept manifest). */
  deleteUntagged: boolean
  /** Blobs written this recently are kept: a push may have uploaded them and not yet sent its manifest. */
  graceMs: number
  log: (line: string) => void
}

export interface GcResult {
  marked: number
  deleted: Digest[]
  freedBytes: number
  manifestsDeleted: Array<{ repo: string; digest: Digest }>
}

interface Refs {
  config?: { digest: string }
  layers?: Array<{ digest: string }>
  manifests?: Array<{ digest: string }>
  subject?: { digest: string }
}

/**
 * Mark and sweep, as distribution's `garbage-collect`: every blob a manifest of any repository references (its
 * config, layers, the manifest itself) is kept; the others go. Holds the store's gc lock, so a running server
 * refuses writes meanwhile; a dry run changes nothing.
 */
export async function collectGarbage(storage: FilesystemStorage, opts: GcOptions): Promise<GcResult> {
  await takeLock(storage.gcLockPath())
  try {
    const result: GcResult = { marked: 0, deleted: [], freedBytes: 0, manifestsDeleted: [] }
    const marked = new Set<Digest>()
    const parse = async (d: Digest): Promise<Refs | undefined> => {
      try {
        return JSON.parse((await storage.readBlob(d)).toString('utf8')) as Refs
      } catch {
        return undefined
      }
    }
    for (const repo of await storage.repositories()) {
      const manifests = await storage.manifests(repo)
      let keep = new Set(manifests)
      if (opts.deleteUntagged) {
        keep = new Set()
        const visit = async (d: Digest): Promise<void> => {
          if (keep.has(d) || !manifests.includes(d)) return
          keep.add(d)
          for (const child of (await parse(d))?.manifests ?? []) await visit(child.digest as Digest)
        }
        for (const tag of await storage.tags(repo)) {
          const d = await storage.resolveTag(repo, tag)
          if (d) await visit(d)
        }
        // A referrer (a signature, an SBOM) of a kept manifest stays with it.
        for (const d of manifests) if (!keep.has(d) && keep.has(((await parse(d))?.subject?.digest ?? '') as Digest)) await visit(d)
        for (const d of manifests.filter((m) => !keep.has(m))) {
          result.manifestsDeleted.push({ repo, digest: d })
          opts.log(`${repo}: manifest ${d} is untagged${opts.dryRun ? ', would be deleted' : ', deleted'}`)
          if (!opts.dryRun) await storage.deleteManifest(repo, d)
        }
      }
      for (const d of keep) {
        marked.add(d)
        const refs = await parse(d)
        for (const r of [refs?.config, ...(refs?.layers ?? [])]) if (r?.digest) marked.add(r.digest as Digest)
      }
    }
    result.marked = marked.size
    const now = Date.now()
    for (const { digest, mtimeMs } of await storage.blobs()) {
      if (marked.has(digest) || now - mtimeMs < opts.graceMs) continue
      result.deleted.push(digest)
      result.freedBytes += (await storage.blobSize(digest)) ?? 0
      opts.log(`blob ${digest}${opts.dryRun ? ' would be deleted' : ' deleted'}`)
      if (!opts.dryRun) await storage.deleteBlob(digest)
    }
    if (!opts.dryRun) {
      const gone = new Set(result.deleted)
      for (const repo of await storage.repositories()) for (const d of await storage.linkedBlobs(repo)) if (gone.has(d)) await storage.unlinkBlob(repo, d)
    }
    return result
  } finally {
    await rm(storage.gcLockPath(), { force: true })
  }
}

/**
 * The lock appears whole, holding our pid (written aside, then linked into place, which fails if one exists), so a
 * server never sees an empty lock. One left by a killed collector is taken over.
 */
async function takeLock(path: string): Promise<void> {
  const tmp = `${path}.${process.pid}`
  await writeFile(tmp, `${process.pid}\n`)
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, path)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        const holder = gcLockHolder(path)
        if (holder !== undefined || attempt > 0) throw new Error(`${path} is held by process ${holder ?? '(unknown)'}: another garbage collection is running`)
        await rm(path, { force: true })
      }
    }
  } finally {
    await rm(tmp, { force: true })
  }
}
