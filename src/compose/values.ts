// The shapes of raw compose attributes, checked and read the same way everywhere.
import { isAbsolute, resolve } from 'node:path'
import { ComposeError } from './errors.ts'

/** A path of the project as an absolute one: `~` is the home directory, relative ones are the project's. */
export function absolute(p: string, workingDir: string): string {
  if (p.startsWith('~')) return resolve(process.env['HOME'] ?? '/', `.${p.slice(1)}`)
  return isAbsolute(p) ? p : resolve(workingDir, p)
}

/** A sequence attribute (absent: empty). */
export function listOf(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw new ComposeError(`${path} must be a list`)
  return v
}

/** A mapping attribute (absent: empty). */
export function mapping(v: unknown, path: string): Record<string, unknown> {
  if (v === undefined || v === null) return {}
  if (typeof v !== 'object' || Array.isArray(v)) throw new ComposeError(`${path} must be a mapping`)
  return v as Record<string, unknown>
}

/** A scalar attribute as text (numbers and booleans as YAML wrote them). */
export function scalar(v: unknown): string {
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${v}`
  if (v === null || v === undefined) return ''
  return JSON.stringify(v)
}

