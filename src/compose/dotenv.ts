import { type Variables, interpolate } from './interpolate.ts'

/**
 * An env file as compose reads one: `KEY=VALUE` lines, `export ` prefixes, `#` comments (inline ones after a
 * space in unquoted values), single quotes literal, double quotes with `\n`-style escapes and interpolation,
 * unquoted values interpolated and trimmed. `lookup` resolves `${V}` against what came before and the shell.
 */
export function parseDotenv(text: string, lookup: Variables = () => undefined, file = '.env'): Map<string, string> {
  const out = new Map<string, string>()
  const vars: Variables = (name) => out.get(name) ?? lookup(name)
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*([\s\S]*))?$/.exec(line)
    if (!m) throw new Error(`${file}:${n + 1}: unexpected character in variable name: ${JSON.stringify(line)}`)
    const key = m[1]!
    let raw = m[2]
    if (raw === undefined) {
      // A bare name takes its value from the environment, if it has one.
      const v = lookup(key)
      if (v !== undefined) out.set(key, v)
      continue
    }
    const quote = raw[0]
    if (quote === "'" || quote === '"') {
      // A quoted value may span lines up to its closing quote.
      let body = raw.slice(1)
      while (!closes(body, quote) && n + 1 < lines.length) body += `\n${lines[++n]!}`
      const end = closingQuote(body, quote)
      if (end < 0) throw new Error(`${file}:${n + 1}: unterminated quoted value for ${key}`)
      const inner = body.slice(0, end)
      out.set(key, quote === "'" ? inner : interpolate(unescape(inner), vars, key))
      continue
    }
    raw = raw.replace(/\s+#.*$/, '').trim()
    out.set(key, interpolate(raw, vars, key))
  }
  return out
}

function closes(body: string, quote: string): boolean {
  return closingQuote(body, quote) >= 0
}

function closingQuote(body: string, quote: string): number {
  for (let i = 0; i < body.length; i++) {
    if (quote === '"' && body[i] === '\\') {
      i++
      continue
    }
    if (body[i] === quote) return i
  }
  return -1
}

function unescape(s: string): string {
  return s.replace(/\\([nrt"\\$])/g, (_m, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c as 'n' | 'r' | 't'] ?? c)
}
