import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { Ajv, type ErrorObject } from 'ajv'
import { LineCounter, parseDocument } from 'yaml'
import standaloneModule from 'ajv/dist/standalone/index.js'
import { composeSpecSchema } from './compose-spec.ts'
import { ComposeError } from './errors.ts'

type Validator = ((doc: unknown) => boolean) & { errors?: ErrorObject[] | null }

// A CommonJS module whose types describe it as an ES module: the function is what both loaders give.
const standaloneCode = standaloneModule as unknown as (ajv: Ajv, validate: unknown) => string

let validator: Validator | undefined

const AJV_OPTIONS = { allErrors: true, allowUnionTypes: true, strict: false } as const

/**
 * The spec's validator. Compiling the schema costs ajv some 300 ms, most of a `compose config`; so the compiled
 * code is kept in the user's cache directory, keyed by the schema's hash, and later runs load it in a few.
 */
function compiled(): Validator {
  if (validator) return validator
  const key = createHash('sha256').update(JSON.stringify([composeSpecSchema, AJV_OPTIONS])).digest('hex').slice(0, 16)
  const cacheFile = join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'cais', `compose-spec-${key}.cjs`)
  try {
    validator = load(readFileSync(cacheFile, 'utf8'))
    return validator
  } catch {
    // Not cached yet, or made by an ajv whose code needs what `load` does not give: compiled again below.
  }
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } })
  const compiledValidator = ajv.compile(composeSpecSchema)
  validator = compiledValidator as Validator
  try {
    const code = standaloneCode(ajv, compiledValidator)
    load(code)
    mkdirSync(join(cacheFile, '..'), { recursive: true })
    const tmp = `${cacheFile}.${process.pid}.tmp`
    writeFileSync(tmp, code)
    renameSync(tmp, cacheFile)
  } catch {
    // A cache that cannot be written (a read-only home) only costs the next run the compilation.
  }
  return validator
}

/** Runs ajv's standalone code, giving it the one runtime helper it requires. */
function load(code: string): Validator {
  const module = { exports: {} as unknown }
  const requireShim = (spec: string): unknown => {
    if (spec === 'ajv/dist/runtime/equal') return { default: jsonEqual }
    throw new Error(`the compiled validator requires ${spec}`)
  }
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- ajv's own generated code, from our cache
  const run = new Function('require', 'module', 'exports', code) as (r: typeof requireShim, m: typeof module, e: unknown) => void
  run(requireShim, module, module.exports)
  return module.exports as Validator
}

/** Deep equality of JSON values, what `uniqueItems` needs. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  return ka.length === kb.length && ka.every((k) => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

/**
 * Checks a merged, interpolated document against the spec. The error names the attribute (`services.web.ports[1]`)
 * and, found in the files (the last that sets it, as the last wins the merge), where it is: `file:line:column`.
 */
export function validateDocument(doc: unknown, files: readonly string[] = [], contents?: ReadonlyMap<string, string>): void {
  const validate = compiled()
  if (validate(doc)) return
  // Of the alternatives a value failed (a port is a number, a string or a mapping), the deepest says most.
  const err = validate.errors!.reduce((best, e) => (e.instancePath.length > best.instancePath.length ? e : best))
  const parts = pathParts(err)
  throw new ComposeError(`validating ${locate(files, parts, contents) ?? 'compose file'}: ${attributePath(parts)} ${describe(err)}`)
}

/** The attribute's keys and indexes, the one an `additionalProperties` error names included. */
function pathParts(err: ErrorObject): Array<string | number> {
  const parts: Array<string | number> = err.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).map((p) => (/^\d+$/.test(p) ? Number(p) : p))
  if (err.keyword === 'additionalProperties') parts.push((err.params as { additionalProperty: string }).additionalProperty)
  return parts
}

function attributePath(parts: ReadonlyArray<string | number>): string {
  let out = ''
  for (const p of parts) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`
  return out === '' ? '(root)' : out
}

/** `file:line:column` of the attribute in the last file that has it; undefined where none does (a merge made it). */
function locate(files: readonly string[], parts: ReadonlyArray<string | number>, contents?: ReadonlyMap<string, string>): string | undefined {
  for (const file of [...files].reverse()) {
    try {
      const lines = new LineCounter()
      const doc = parseDocument(contents?.get(file) ?? readFileSync(file, 'utf8'), { lineCounter: lines, merge: true })
      const node = doc.getIn(parts, true) as { range?: [number, number, number] } | undefined
      if (!node?.range) continue
      const { line, col } = lines.linePos(node.range[0])
      return `${file}:${line}:${col}`
    } catch {
      continue
    }
  }
  return undefined
}

function describe(err: ErrorObject): string {
  if (err.keyword === 'additionalProperties') return 'is not allowed: additional properties are not allowed'
  if (err.keyword === 'type') return `must be a ${(err.params as { type: string }).type}`
  return err.message ?? 'is invalid'
}
