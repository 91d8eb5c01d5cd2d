import { Ajv, type ErrorObject } from 'ajv'
import { composeSpecSchema } from './compose-spec.ts'
import { ComposeError } from './errors.ts'

let validator: ReturnType<Ajv['compile']> | undefined

function compiled(): ReturnType<Ajv['compile']> {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strict: false })
    validator = ajv.compile(composeSpecSchema)
  }
  return validator
}

/** Checks a merged, interpolated document against the spec; the error names the attribute (`services.web.ports[1]`). */
export function validateDocument(doc: unknown): void {
  const validate = compiled()
  if (validate(doc)) return
  // Of the alternatives a value failed (a port is a number, a string or a mapping), the deepest says most.
  const err = validate.errors!.reduce((best, e) => (e.instancePath.length > best.instancePath.length ? e : best))
  throw new ComposeError(`validating compose file: ${attributePath(err)} ${describe(err)}`)
}

function attributePath(err: ErrorObject): string {
  const parts = err.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
  let out = ''
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`
  if (err.keyword === 'additionalProperties') {
    const extra = (err.params as { additionalProperty: string }).additionalProperty
    return out === '' ? extra : `${out}.${extra}`
  }
  return out === '' ? '(root)' : out
}

function describe(err: ErrorObject): string {
  if (err.keyword === 'additionalProperties') return 'is not allowed: additional properties are not allowed'
  if (err.keyword === 'type') return `must be a ${(err.params as { type: string }).type}`
  return err.message ?? 'is invalid'
}
