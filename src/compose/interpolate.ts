import { Override } from './yaml-tags.ts'

/** Where a variable's value comes from, in compose's order: the shell, then the env files. */
export type Variables = (name: string) => string | undefined

export class InterpolationError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InterpolationError'
  }
}

/**
 * Compose's interpolation of one string: `$V`, `${V}`, `${V:-d}`, `${V-d}`, `${V:?msg}`, `${V?msg}`, `${V:+a}`,
 * `${V+a}`, nested defaults, and `$$` for a literal `$`. `path` names the attribute in errors.
 */
export function interpolate(text: string, vars: Variables, path: string): string {
  let out = ''
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c !== '$') {
      out += c
      i++
      continue
    }
    const next = text[i + 1]
    if (next === '$') {
      out += '$'
      i += 2
    } else if (next === '{') {
      const end = closingBrace(text, i + 2)
      if (end < 0) throw new InterpolationError(`invalid interpolation format for ${path}: "${text}"; you may need to escape any $ with another $`)
      out += substitute(text.slice(i + 2, end), vars, path, text)
      i = end + 1
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))
      if (!m) {
        out += '$'
        i++
        continue
      }
      out += vars(m[0]) ?? ''
      i += 1 + m[0].length
    }
  }
  return out
}

/** The index of the `}` closing a `${` whose body starts at `from`, counting nested `${…}`. */
function closingBrace(text: string, from: number): number {
  let depth = 1
  for (let i = from; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '{') {
      depth++
      i++
    } else if (text[i] === '}' && --depth === 0) return i
  }
  return -1
}

function substitute(body: string, vars: Variables, path: string, whole: string): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body)
  if (!m) throw new InterpolationError(`invalid interpolation format for ${path}: "${whole}"; you may need to escape any $ with another $`)
  const [, name, op, arg = ''] = m as unknown as [string, string, string | undefined, string | undefined]
  const value = vars(name)
  if (!op) return value ?? ''
  const unsetOrEmpty = value === undefined || value === ''
  const word = (): string => interpolate(arg, vars, path)
  switch (op) {
    case ':-':
      return unsetOrEmpty ? word() : value
    case '-':
      return value === undefined ? word() : value
    case ':+':
      return unsetOrEmpty ? '' : word()
    case '+':
      return value === undefined ? '' : word()
    case ':?':
    case '?':
      if (op === ':?' ? unsetOrEmpty : value === undefined) {
        throw new InterpolationError(`required variable ${name} is missing a value${arg ? `: ${word()}` : ''}`)
      }
      return value!
  }
  return value ?? ''
}

/** Interpolates every string in a parsed YAML tree (keys stay as written). */
export function interpolateTree(node: unknown, vars: Variables, path = ''): unknown {
  if (typeof node === 'string') return interpolate(node, vars, path || '.')
  if (node instanceof Override) return new Override(interpolateTree(node.value, vars, path))
  if (Array.isArray(node)) return node.map((v, i) => interpolateTree(v, vars, `${path}[${i}]`))
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, vars, path ? `${path}.${k}` : k)]))
  }
  return node
}
