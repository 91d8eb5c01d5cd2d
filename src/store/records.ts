import { mkdir, readFile, rename } from 'node:fs/promises'
import { basename, dirname, join, relative } from 'node:path'
import { isErrno, messageOf } from '../lib/errors.ts'

/** A record file that could not be used: unreadable, not JSON (truncated), or not the shape its store writes. */
export interface BrokenRecord {
  /** What it would have been: `image`, `layer`, `container`, `network`, `volume`, `references`. */
  kind: string
  path: string
  reason: string
}

export type RecordRead<T> = { record: T } | { missing: true } | { broken: string }

/**
 * Reads a JSON record and checks its shape with `valid`. A missing file is `missing`; anything else that is not a
 * good record is `broken`, with the reason: a store keeps going without it, and `system check` reports it.
 */
export async function readRecord<T>(path: string, valid: (x: unknown) => boolean): Promise<RecordRead<T>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { missing: true }
    return { broken: messageOf(err) }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return { broken: text.trim() === '' ? 'empty file' : `not JSON: ${messageOf(err)}` }
  }
  return valid(value) ? { record: value as T } : { broken: 'not a record of this kind (fields missing or of the wrong type)' }
}

/** `x` is an object whose `fields` are all strings. */
export function hasStrings(x: unknown, ...fields: string[]): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && fields.every((f) => typeof (x as Record<string, unknown>)[f] === 'string')
}

/** `x` is an object whose `fields` are all objects (not null). */
export function hasObjects(x: unknown, ...fields: string[]): boolean {
  return typeof x === 'object' && x !== null && fields.every((f) => typeof (x as Record<string, unknown>)[f] === 'object' && (x as Record<string, unknown>)[f] !== null)
}

/**
 * Moves a broken record out of its store into `<root>/broken/`, under its path relative to the root, so that
 * nothing is lost and the store no longer trips on it. Returns where it went.
 */
export async function setAside(root: string, path: string): Promise<string> {
  const target = join(root, 'broken', relative(root, dirname(path)), `${basename(path)}.${Date.now()}`)
  await mkdir(dirname(target), { recursive: true })
  await rename(path, target)
  return target
}

/** One thing `system check` found wrong in the store, and what `--repair` did about it. */
export interface StoreProblem {
  /** `blob`, `layer`, `image`, `reference`, `container`, `volume`, `network`, `references`. */
  object: string
  id: string
  problem: string
  /** What the repair did; absent when it was not asked for or cannot mend this without losing data. */
  repaired?: string
}

/** Broken records as problems; with `repair`, each set aside (the directory `whole` names, else the file). */
export async function brokenProblems(broken: BrokenRecord[], repair: { root: string } | undefined, whole?: (r: BrokenRecord) => string): Promise<StoreProblem[]> {
  const out: StoreProblem[] = []
  for (const r of [...broken]) {
    const p: StoreProblem = { object: r.kind, id: r.path, problem: `unreadable record: ${r.reason}` }
    if (repair) {
      p.repaired = `set aside in ${await setAside(repair.root, whole?.(r) ?? r.path)}`
      broken.splice(broken.indexOf(r), 1)
    }
    out.push(p)
  }
  return out
}
