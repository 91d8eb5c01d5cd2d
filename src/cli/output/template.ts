/**
 * The subset of Go templates that `--format` uses in practice: `{{.Field}}`, `{{.A.B}}`, `{{json .}}`,
 * `{{json .Field}}`, `{{.Label "key"}}`, `{{index .Map "key"}}`, `{{lower .X}}`, `{{upper .X}}`, and `\t` / `\n` escapes.
 */
export function renderTemplate(template: string, data: unknown): string {
  const text = template.replace(/\\t/g, '\t').replace(/\\n/g, '\n')
  return text.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_m, expr: string) => evaluate(expr, data))
}

function evaluate(expr: string, data: unknown): string {
  const parts = expr.match(/"[^"]*"|\S+/g) ?? []
  const [head, ...args] = parts
  if (head === undefined) return ''
  if (head === 'json') return JSON.stringify(lookup(args[0] ?? '.', data))
  if (head === 'lower') return String(lookup(args[0] ?? '.', data)).toLowerCase()
  if (head === 'upper') return String(lookup(args[0] ?? '.', data)).toUpperCase()
  if (head === 'index') {
    const base = lookup(args[0] ?? '.', data) as Record<string, unknown> | undefined
    return display(base?.[unquote(args[1] ?? '')])
  }
  const labelKey = args[0]
  if (head === '.Label' && labelKey) {
    const key = unquote(labelKey)
    const labels = (data as { Labels?: unknown }).Labels
    if (typeof labels === 'string') {
      const m = labels.split(',').find((kv) => kv.startsWith(`${key}=`))
      return m ? m.slice(m.indexOf('=') + 1) : ''
    }
    return display((labels as Record<string, unknown> | undefined)?.[key])
  }
  return display(lookup(head, data))
}

function lookup(path: string, data: unknown): unknown {
  if (path === '.') return data
  let cur: unknown = data
  for (const key of path.replace(/^\./, '').split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[key]
  }
  return cur
}

function display(v: unknown): string {
  if (v === undefined || v === null) return '<no value>'
  if (Array.isArray(v)) return `[${v.map(display).join(' ')}]`
  if (typeof v === 'object') return `map[${Object.entries(v).map(([k, x]) => `${k}:${display(x)}`).join(' ')}]`
  return typeof v === 'string' ? v : JSON.stringify(v)
}

const unquote = (s: string): string => s.replace(/^"|"$/g, '')
