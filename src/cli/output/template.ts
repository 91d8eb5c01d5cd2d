import { Template, TemplateError, type TemplateFunction, dockerFunctions, structType } from './go-template.ts'
import { renderTable } from './table.ts'

export { TemplateError }

/** A --format value that cannot be parsed or run: the docker CLI's words before Go's, and its exit status. */
export class FormatError extends Error {
  readonly exitStatus: number
  constructor(message: string, exitStatus: number) {
    super(message)
    this.name = 'FormatError'
    this.exitStatus = exitStatus
  }
}

/**
 * The docker CLI turns the two-character escapes `\t` and `\n` of a --format value into the characters in
 * what the template printed (so the columns of its errors count them as two).
 */
const unescape = (text: string): string => text.replace(/\\t/g, '\t').replace(/\\n/g, '\n')

/**
 * Parses a --format template as the docker CLI does, with its functions. `words` names the failure as the
 * command does (`inspect` says "template parsing error" for both kinds, and exits 64 on a parse error).
 */
export function parseFormat(
  format: string,
  words: { parse: string; exitStatus: number } = { parse: 'failed to parse template', exitStatus: 1 },
  functions: Record<string, TemplateFunction> = dockerFunctions,
  columnOffset = 0,
): Template {
  try {
    return new Template(format, functions, columnOffset)
  } catch (err) {
    if (err instanceof TemplateError) throw new FormatError(`${words.parse}: ${err.message}`, words.exitStatus)
    throw err
  }
}

/** Runs a parsed template on one value; a failure is the docker CLI's "failed to execute template". */
export function execute(template: Template, data: unknown, opts: { words?: string; missingAsNil?: boolean } = {}): string {
  const words = opts.words ?? 'failed to execute template'
  try {
    return unescape(template.execute(data, { missingAsNil: opts.missingAsNil ?? false }))
  } catch (err) {
    if (err instanceof TemplateError) throw new FormatError(`${words}: ${err.message}`, 1)
    throw err
  }
}

/** Parses and runs a --format template on one value (inspect, info, version and each line of a listing). */
export function renderTemplate(format: string, data: unknown): string {
  return execute(parseFormat(format), data)
}

/**
 * A value whose fields are a fixed set, as the docker CLI's Go structs: a template naming any other field fails
 * with Go's "can't evaluate field X in type T" rather than printing `<no value>`.
 */
export function asStruct<T extends object>(value: T, typeName: string): T {
  Object.defineProperty(value, structType, { value: typeName, enumerable: false })
  return value
}

/**
 * The docker CLI's functions for a table's header row: the header names go through unchanged by these, so
 * `{{json .Names}}` heads its column `NAMES`, as `{{.Names}}` does.
 */
const headerFunctions: Record<string, TemplateFunction> = {
  ...dockerFunctions,
  ...Object.fromEntries(['json', 'split', 'join', 'title', 'lower', 'upper', 'truncate'].map((name) => [name, (v: unknown) => v])),
}

/**
 * A listing's lines for `--format`: with the `table` directive, a header row (each field's header name, as
 * `headers` gives it; `.Label "x"` heads its column `x`) and the rows laid out in columns as the docker CLI's
 * tabwriter does; otherwise one rendered line a row.
 */
export function formatRows(format: string, rows: readonly object[], headers: Record<string, string>, typeName = 'formatter.Context'): string[] {
  const isTable = format.startsWith('table')
  const body = isTable ? format.slice('table'.length).trimStart() : format
  const offset = format.length - body.length
  const template = parseFormat(body, undefined, dockerFunctions, offset)
  const lines = rows.map((r) => execute(template, rowContext(r, typeName)))
  if (!isTable) return lines
  const headerContext: Record<string, unknown> = { ...headers, Label: (name: unknown) => name }
  const header = execute(parseFormat(body, undefined, headerFunctions, offset), headerContext)
  return renderTable([header, ...lines].map((l) => l.split('\t')))
}

/** A row as the template sees it: its fields, and `.Label "key"` over its labels (a map, or `a=b,c=d` text). */
function rowContext(row: object, typeName: string): object {
  const context = asStruct({ ...row }, `*${typeName}`)
  if (!Object.hasOwn(context, 'Label')) {
    Object.defineProperty(context, 'Label', {
      enumerable: false,
      value: (key: unknown): string => {
        const labels = (row as { Labels?: unknown }).Labels
        if (typeof labels === 'string') {
          const pair = labels.split(',').find((kv) => kv.startsWith(`${String(key)}=`))
          return pair ? pair.slice(pair.indexOf('=') + 1) : ''
        }
        const value = labels && typeof labels === 'object' ? (labels as Record<string, unknown>)[String(key)] : undefined
        return typeof value === 'string' ? value : ''
      },
    })
  }
  return context
}

/**
 * `inspect -f`, which names either failure "template parsing error" (a parse error exits 64), as the docker CLI.
 * The docker CLI runs the template on its Go struct, where a field the JSON omits when empty (`.State.Health`)
 * is nil; here the JSON is all there is, so a key it does not have is nil too. `json` prints the value as JSON.
 */
export function inspectFormatter(format: string): (value: unknown) => string {
  if (format === 'json') return (value) => JSON.stringify(value)
  const template = parseFormat(format, { parse: 'template parsing error', exitStatus: 64 })
  return (value) => execute(template, value, { words: 'template parsing error', missingAsNil: true })
}
