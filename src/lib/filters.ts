import { invalid } from './errors.ts'

/** Docker's `filters` query: a key maps to a set of values; values of one key are OR-ed, keys are AND-ed. */
export type Filters = Map<string, string[]>

/** Parses both shapes clients send: map of sets `{"a":{"x":true}}` (Go) and map of lists `{"a":["x"]}` (docker-py). */
export function parseFilters(raw: string | undefined, allowed: readonly string[]): Filters {
  const filters: Filters = new Map()
  if (raw === undefined || raw === '') return filters
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (err) {
    throw invalid(`invalid filter: ${(err as Error).message}`, err)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid('invalid filter: expected a JSON object')
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!allowed.includes(key)) throw invalid(`invalid filter '${key}'`)
    let values: string[]
    if (Array.isArray(value)) values = value.map(String)
    else if (value !== null && typeof value === 'object') values = Object.entries(value).filter(([, on]) => on === true).map(([k]) => k)
    else throw invalid(`invalid filter '${key}'`)
    filters.set(key, values)
  }
  return filters
}

/** True when a `label` filter list matches a label map: every entry `k` or `k=v` must hold. */
export function matchLabels(wanted: readonly string[] | undefined, labels: Record<string, string> | null | undefined): boolean {
  if (!wanted) return true
  if (!labels || typeof labels !== 'object') return wanted.length === 0
  return wanted.every((entry) => {
    const eq = entry.indexOf('=')
    if (eq < 0) return entry in labels
    return labels[entry.slice(0, eq)] === entry.slice(eq + 1)
  })
}
