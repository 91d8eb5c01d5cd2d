/** `k=v` flag values into a map; a bare `k` maps to "". */
export function keyValues(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const item of items) {
    const eq = item.indexOf('=')
    out[eq < 0 ? item : item.slice(0, eq)] = eq < 0 ? '' : item.slice(eq + 1)
  }
  return out
}

/** `--filter k=v` flags into the filters map the client sends. */
export function filterFlags(items: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const f of items) {
    const eq = f.indexOf('=')
    if (eq < 0) throw new Error(`bad format of filter (expected name=value)`)
    ;(out[f.slice(0, eq)] ??= []).push(f.slice(eq + 1))
  }
  return out
}
