/**
 * Go's text/template, as the docker CLI uses it for `--format`: text and actions with trim markers and
 * comments; pipelines of commands; fields, chained fields and method-like fields (a function in the data is
 * called with the arguments); variables (`$`, `$x := …`, `$x = …`, `range $i, $e := …`); `if`/`else if`/
 * `else with`/`with`/`range` (with `else`, `break`, `continue`)/`end`; Go's built-in functions and Docker's
 * (json, split, join, title, lower, upper, pad, truncate). Values are JSON values, printed as Go prints them.
 * Errors read as Go's: `template: :LINE: …` when parsing, `template: :LINE:COL: executing "" at <…>: …` when
 * running.
 */

export class TemplateError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TemplateError'
  }
}

export type TemplateFunction = (...args: unknown[]) => unknown

/** An argument of the wrong type for a function: Go reports it at that argument, before any call. */
export class ArgumentTypeError extends Error {
  readonly index: number
  constructor(index: number, message: string) {
    super(message)
    this.index = index
  }
}

/**
 * Marks an object as a Go struct of the named type (see asStruct): a field it does not have is an error, as in
 * Go, where a map's missing key is a zero value.
 */
export const structType = Symbol('go struct type')

// ---- lexing

type TokenKind = 'text' | 'open' | 'close' | 'field' | 'variable' | 'identifier' | 'string' | 'number' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'dot' | 'eof'

interface Token {
  kind: TokenKind
  text: string
  /** Offset in the template, for line and column numbers. */
  at: number
}

function lex(src: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  const lineOf = (at: number): number => src.slice(0, at).split('\n').length
  while (i < src.length) {
    let open = src.indexOf('{{', i)
    if (open < 0) open = src.length
    let text = src.slice(i, open)
    const trimLeft = src.startsWith('{{- ', open) || src.startsWith('{{-\t', open) || src.startsWith('{{-\n', open) || src.startsWith('{{-\r', open)
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, '')
    if (text.length > 0) tokens.push({ kind: 'text', text, at: i })
    if (open >= src.length) break
    let p = open + (trimLeft ? 3 : 2)
    // A comment: {{/* … */}}, possibly with trim markers.
    const afterSpace = src.slice(p).match(/^\s*/)![0].length
    if (src.startsWith('/*', p + afterSpace)) {
      const end = src.indexOf('*/', p + afterSpace + 2)
      if (end < 0) throw new TemplateError(`template: :${lineOf(open)}: unclosed comment`)
      let q = end + 2
      const trimRight = /^\s+-\}\}/.test(src.slice(q))
      q += src.slice(q).match(/^\s*-?/)![0].length
      if (!src.startsWith('}}', q)) throw new TemplateError(`template: :${lineOf(open)}: comment ends before closing delimiter`)
      i = q + 2
      if (trimRight) i += src.slice(i).match(/^[ \t\r\n]*/)![0].length
      continue
    }
    tokens.push({ kind: 'open', text: '{{', at: open })
    for (;;) {
      while (p < src.length && /[ \t\r\n]/.test(src[p]!)) p++
      if (p >= src.length) throw new TemplateError(`template: :${lineOf(open)}: unclosed action`)
      if (src.startsWith('-}}', p) && /[ \t\r\n]/.test(src[p - 1] ?? '')) {
        tokens.push({ kind: 'close', text: '}}', at: p })
        p += 3
        p += src.slice(p).match(/^[ \t\r\n]*/)![0].length
        break
      }
      if (src.startsWith('}}', p)) {
        tokens.push({ kind: 'close', text: '}}', at: p })
        p += 2
        break
      }
      const c = src[p]!
      const rest = src.slice(p)
      let m: RegExpMatchArray | null
      if (c === '|') tokens.push({ kind: 'pipe', text: c, at: p++ })
      else if (c === '(') tokens.push({ kind: 'lparen', text: c, at: p++ })
      else if (c === ')') tokens.push({ kind: 'rparen', text: c, at: p++ })
      else if (c === ',') tokens.push({ kind: 'comma', text: c, at: p++ })
      else if (rest.startsWith(':=')) {
        tokens.push({ kind: 'declare', text: ':=', at: p })
        p += 2
      } else if (c === '=') tokens.push({ kind: 'assign', text: c, at: p++ })
      else if (c === '"') {
        let q = p + 1
        while (q < src.length && src[q] !== '"') {
          if (src[q] === '\\') q++
          if (src[q] === '\n') throw new TemplateError(`template: :${lineOf(p)}: unterminated quoted string`)
          q++
        }
        if (q >= src.length) throw new TemplateError(`template: :${lineOf(p)}: unterminated quoted string`)
        tokens.push({ kind: 'string', text: unquoteGo(src.slice(p, q + 1)), at: p })
        p = q + 1
      } else if (c === '`') {
        const q = src.indexOf('`', p + 1)
        if (q < 0) throw new TemplateError(`template: :${lineOf(p)}: unterminated raw quoted string`)
        tokens.push({ kind: 'string', text: src.slice(p + 1, q), at: p })
        p = q + 1
      } else if (c === "'") {
        const q = src.indexOf("'", p + 1)
        if (q < 0) throw new TemplateError(`template: :${lineOf(p)}: unterminated character constant`)
        tokens.push({ kind: 'number', text: String(unquoteGo(`"${src.slice(p + 1, q)}"`).codePointAt(0) ?? 0), at: p })
        p = q + 1
      } else if ((m = /^\$[A-Za-z0-9_]*/.exec(rest))) {
        tokens.push({ kind: 'variable', text: m[0], at: p })
        p += m[0].length
      } else if ((m = /^(\.[A-Za-z_][A-Za-z0-9_]*)+/.exec(rest))) {
        tokens.push({ kind: 'field', text: m[0], at: p })
        p += m[0].length
      } else if (c === '.' && !/^\.\d/.test(rest)) tokens.push({ kind: 'dot', text: '.', at: p++ })
      else if ((m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d[\d_]*([eE][+-]?\d+)?)/.exec(rest)) && m[0] !== '' && m[0] !== '+' && m[0] !== '-') {
        tokens.push({ kind: 'number', text: m[0], at: p })
        p += m[0].length
      } else if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) {
        tokens.push({ kind: 'identifier', text: m[0], at: p })
        p += m[0].length
      } else throw new TemplateError(`template: :${lineOf(p)}: unexpected "${c}" in command`)
    }
    i = p
  }
  tokens.push({ kind: 'eof', text: '', at: src.length })
  return tokens
}

/** A Go interpreted string literal's value. */
function unquoteGo(quoted: string): string {
  const body = quoted.slice(1, -1)
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_m, e: string) => {
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'" }
    if (simple[e] !== undefined) return simple[e]
    if (/^[xuU]/.test(e)) return String.fromCodePoint(parseInt(e.slice(1), 16))
    if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8))
    throw new TemplateError(`template: :1: invalid syntax`)
  })
}

// ---- parsing

type Arg =
  | { kind: 'field'; base: Arg | undefined; names: string[]; at: number; text: string }
  | { kind: 'variable'; name: string; names: string[]; at: number; text: string }
  | { kind: 'dot'; at: number; text: string }
  | { kind: 'literal'; value: unknown; at: number; text: string }
  | { kind: 'function'; name: string; at: number; text: string }
  | { kind: 'pipeline'; pipe: Pipeline; at: number; text: string }

interface Command {
  args: Arg[]
  at: number
  /** As Go prints the command in an error: its operands joined by one space. */
  text: string
}

interface Pipeline {
  decl: string[]
  assign: boolean
  commands: Command[]
  at: number
}

interface ControlNode {
  kind: 'if' | 'with' | 'range'
  pipe: Pipeline
  list: Node[]
  elseList: Node[] | undefined
}

type Node = { kind: 'text'; text: string } | { kind: 'action'; pipe: Pipeline } | ControlNode | { kind: 'break' | 'continue'; at: number }

const builtinNames = new Set(['and', 'or', 'not', 'len', 'index', 'slice', 'print', 'printf', 'println', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'html', 'js', 'urlquery', 'call'])

class Parser {
  readonly #tokens: Token[]
  readonly #src: string
  readonly #functions: Set<string>
  #pos = 0
  #rangeDepth = 0

  constructor(src: string, functions: Set<string>) {
    this.#src = src
    this.#tokens = lex(src)
    this.#functions = functions
  }

  #peek(offset = 0): Token {
    return this.#tokens[this.#pos + offset]!
  }

  #next(): Token {
    return this.#tokens[this.#pos++]!
  }

  #line(at: number): number {
    return this.#src.slice(0, at).split('\n').length
  }

  #fail(at: number, message: string): never {
    throw new TemplateError(`template: :${this.#line(at)}: ${message}`)
  }

  parse(): Node[] {
    const { list, end } = this.#list()
    if (end) this.#fail(end.at, `unexpected {{${end.text}}}`)
    return list
  }

  /** Nodes up to an `{{end}}` or `{{else …}}` (returned as `end`, its keyword and tokens consumed up to the keyword) or EOF. */
  #list(): { list: Node[]; end: Token | undefined } {
    const list: Node[] = []
    for (;;) {
      const t = this.#next()
      if (t.kind === 'eof') return { list, end: undefined }
      if (t.kind === 'text') {
        list.push({ kind: 'text', text: t.text })
        continue
      }
      // t is '{{'
      const k = this.#peek()
      if (k.kind === 'identifier' && (k.text === 'end' || k.text === 'else')) {
        this.#next()
        return { list, end: k }
      }
      if (k.kind === 'identifier' && (k.text === 'if' || k.text === 'with' || k.text === 'range')) {
        this.#next()
        list.push(this.#control(k.text))
        continue
      }
      if (k.kind === 'identifier' && (k.text === 'break' || k.text === 'continue')) {
        this.#next()
        if (this.#rangeDepth === 0) this.#fail(k.at, `{{${k.text}}} outside {{range}}`)
        this.#expectClose(k.text)
        list.push({ kind: k.text, at: k.at })
        continue
      }
      if (k.kind === 'identifier' && (k.text === 'define' || k.text === 'template' || k.text === 'block')) {
        this.#fail(k.at, `{{${k.text}}} is not supported in --format`)
      }
      if (k.kind === 'close') this.#fail(k.at, 'missing value for command')
      list.push({ kind: 'action', pipe: this.#pipeline('command', true) })
    }
  }

  #expectClose(context: string): void {
    const t = this.#next()
    if (t.kind !== 'close') this.#fail(t.at, `unexpected ${describe(t)} in ${context}`)
  }

  #control(kind: 'if' | 'with' | 'range'): Node {
    const pipe = this.#pipeline(kind, kind === 'range')
    if (kind === 'range') this.#rangeDepth++
    const body = this.#list()
    if (kind === 'range') this.#rangeDepth--
    if (!body.end) this.#fail(this.#src.length, 'unexpected EOF')
    let elseList: Node[] | undefined
    if (body.end.text === 'else') {
      const chained = this.#peek()
      if (chained.kind === 'identifier' && (chained.text === 'if' || (chained.text === 'with' && kind === 'with'))) {
        // {{else if …}} is {{else}}{{if …}}…{{end}} sharing the outer {{end}}.
        this.#next()
        elseList = [this.#control(chained.text)]
        return { kind, pipe, list: body.list, elseList }
      }
      this.#expectClose('else')
      const rest = this.#list()
      if (!rest.end) this.#fail(this.#src.length, 'unexpected EOF')
      if (rest.end.text !== 'end') this.#fail(rest.end.at, `expected end; found {{else}}`)
      this.#expectClose('end')
      elseList = rest.list
    } else this.#expectClose('end')
    return { kind, pipe, list: body.list, elseList }
  }

  /** A pipeline up to `}}` (consumed) or, inside parentheses, `)`. */
  #pipeline(context: string, allowDecl: boolean, inParens = false): Pipeline {
    const start = this.#peek()
    const decl: string[] = []
    let assign = false
    // `$x :=`, `$x =`, `$i, $e :=`
    if (this.#peek().kind === 'variable') {
      const save = this.#pos
      const names = [this.#next().text]
      if (this.#peek().kind === 'comma' && allowDecl) {
        this.#next()
        if (this.#peek().kind === 'variable') names.push(this.#next().text)
        else this.#fail(this.#peek().at, `range can only initialize variables`)
      }
      const op = this.#peek()
      if (op.kind === 'declare' || op.kind === 'assign') {
        this.#next()
        decl.push(...names)
        assign = op.kind === 'assign'
        if (names.length > 1 && context !== 'range') this.#fail(op.at, 'too many declarations in command')
      } else this.#pos = save
    }
    const commands: Command[] = []
    for (;;) {
      const t = this.#peek()
      if (t.kind === 'close' && !inParens) {
        this.#next()
        break
      }
      if (t.kind === 'rparen' && inParens) {
        this.#next()
        break
      }
      if (t.kind === 'eof' || (t.kind === 'close' && inParens)) this.#fail(t.at, inParens ? 'unclosed left paren' : `unclosed action`)
      commands.push(this.#command(inParens))
      const after = this.#peek()
      if (after.kind === 'pipe') {
        this.#next()
        if (this.#peek().kind === 'close' || this.#peek().kind === 'rparen') this.#fail(after.at, 'missing command')
      }
    }
    if (commands.length === 0) this.#fail(start.at, `missing value for ${context}`)
    for (const c of commands.slice(1)) {
      const first = c.args[0]!
      if (first.kind === 'literal' || first.kind === 'dot' || (first.kind === 'variable' && first.names.length === 0)) {
        this.#fail(first.at, `non executable command in pipeline stage ${commands.indexOf(c) + 1}`)
      }
    }
    return { decl, assign, commands, at: start.at }
  }

  #command(inParens: boolean): Command {
    const args: Arg[] = []
    const at = this.#peek().at
    for (;;) {
      const t = this.#peek()
      if (t.kind === 'pipe' || t.kind === 'close' || t.kind === 'eof' || (t.kind === 'rparen' && inParens)) break
      args.push(this.#operand())
    }
    if (args.length === 0) this.#fail(at, 'missing value for command')
    return { args, at, text: args.map((a) => a.text).join(' ') }
  }

  #operand(): Arg {
    const t = this.#next()
    let arg: Arg
    switch (t.kind) {
      case 'field':
        arg = { kind: 'field', base: undefined, names: t.text.slice(1).split('.'), at: t.at, text: t.text }
        break
      case 'variable': {
        const chained = this.#peek()
        const names = chained.kind === 'field' && chained.at === t.at + t.text.length ? this.#next().text.slice(1).split('.') : []
        arg = { kind: 'variable', name: t.text, names, at: t.at, text: t.text + (names.length ? '.' + names.join('.') : '') }
        break
      }
      case 'dot':
        arg = { kind: 'dot', at: t.at, text: '.' }
        break
      case 'string':
        arg = { kind: 'literal', value: t.text, at: t.at, text: JSON.stringify(t.text) }
        break
      case 'number':
        arg = { kind: 'literal', value: parseGoNumber(t.text), at: t.at, text: t.text }
        break
      case 'identifier':
        if (t.text === 'true' || t.text === 'false') arg = { kind: 'literal', value: t.text === 'true', at: t.at, text: t.text }
        else if (t.text === 'nil') arg = { kind: 'literal', value: null, at: t.at, text: 'nil' }
        else if (!builtinNames.has(t.text) && !this.#functions.has(t.text)) this.#fail(t.at, `function "${t.text}" not defined`)
        else arg = { kind: 'function', name: t.text, at: t.at, text: t.text }
        break
      case 'lparen': {
        const pipe = this.#pipeline('parenthesized pipeline', false, true)
        arg = { kind: 'pipeline', pipe, at: t.at, text: '(…)' }
        break
      }
      default:
        this.#fail(t.at, `unexpected ${describe(t)} in operand`)
    }
    // (pipeline).Field
    const after = this.#peek()
    if (arg.kind === 'pipeline' && after.kind === 'field' && after.at === this.#tokens[this.#pos - 1]!.at + 1) {
      this.#next()
      return { kind: 'field', base: arg, names: after.text.slice(1).split('.'), at: after.at, text: after.text }
    }
    return arg
  }
}

function describe(t: Token): string {
  if (t.kind === 'close') return '"}}"'
  if (t.kind === 'eof') return 'EOF'
  if (t.kind === 'rparen') return '")"'
  return `"${t.text}"`
}

function parseGoNumber(text: string): number {
  const clean = text.replace(/_/g, '')
  if (/^[+-]?0[xX]/.test(clean)) return parseInt(clean, 16)
  if (/^[+-]?0[bB]/.test(clean)) return parseInt(clean.replace(/0[bB]/, ''), 2)
  if (/^[+-]?0[oO]/.test(clean)) return parseInt(clean.replace(/0[oO]/, ''), 8)
  return Number(clean)
}

// ---- values as Go prints them

/** A missing field or map key: Go's zero value of an interface, printed `<no value>`. */
const missing = undefined

/** fmt.Sprint of one value (`%v`). */
export function goString(v: unknown): string {
  if (v === undefined) return '<no value>'
  if (v === null) return '<nil>'
  if (typeof v === 'string') return v
  if (typeof v === 'number') return goNumber(v)
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  if (typeof v === 'function') return '<function>'
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined || x === null ? '<nil>' : goString(x))).join(' ')}]`
  const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `map[${entries.map(([k, x]) => `${k}:${x === undefined || x === null ? '<nil>' : goString(x)}`).join(' ')}]`
}

function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n)
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf'
  // Go's %v of a float64 is %g with the shortest representation: exponent for large and small magnitudes.
  const abs = Math.abs(n)
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) return n.toExponential().replace(/e([+-])(\d)$/, 'e$10$2')
  return String(n)
}

/** Go's truth: false, 0, nil, and empty strings, slices and maps are false. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false
  if (Array.isArray(v)) return v.length > 0
  if (typeof v === 'object') return Object.keys(v).length > 0
  return true
}

// ---- functions

const goPrint = (args: unknown[]): string => {
  // fmt.Sprint: a space between operands when neither is a string.
  let out = ''
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' '
    out += goString(a)
  })
  return out
}

/** fmt.Sprintf for the verbs templates use: %v %s %d %q %t %f %e %g %x %X %o %b %c %T and %%, with flags, width and precision. */
export function goSprintf(format: string, args: unknown[]): string {
  let n = 0
  let out = format.replace(/%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d+))?([a-zA-Z%])/g, (_m, flags: string, width: string | undefined, precision: string | undefined, verb: string) => {
    if (verb === '%') return '%'
    const w = width === '*' ? Number(args[n++]) : width !== undefined ? Number(width) : undefined
    const p = precision === '*' ? Number(args[n++]) : precision !== undefined ? Number(precision) : undefined
    if (n >= args.length) return `%!${verb}(MISSING)`
    const a = args[n++]
    let s: string
    switch (verb) {
      case 'v':
        s = flags.includes('#') || flags.includes('+') ? JSON.stringify(a) : goString(a)
        break
      case 's':
        s = goString(a)
        if (p !== undefined) s = [...s].slice(0, p).join('')
        break
      case 'q':
        s = typeof a === 'string' ? JSON.stringify(a) : goString(a)
        break
      case 'd':
        s = typeof a === 'number' && Number.isInteger(a) ? String(a) : `%!d(${goTypeName(a)}=${goString(a)})`
        break
      case 't':
        s = typeof a === 'boolean' ? String(a) : `%!t(${goTypeName(a)}=${goString(a)})`
        break
      case 'f':
      case 'F':
        s = typeof a === 'number' ? a.toFixed(p ?? 6) : `%!f(${goTypeName(a)}=${goString(a)})`
        break
      case 'e':
        s = typeof a === 'number' ? a.toExponential(p ?? 6).replace(/e([+-])(\d)$/, 'e$10$2') : `%!e(${goTypeName(a)}=${goString(a)})`
        break
      case 'g':
        s = typeof a === 'number' ? goNumber(p !== undefined ? Number(a.toPrecision(p)) : a) : `%!g(${goTypeName(a)}=${goString(a)})`
        break
      case 'x':
      case 'X': {
        const hex = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(goString(a)).toString('hex')
        s = verb === 'X' ? hex.toUpperCase() : hex
        break
      }
      case 'o':
        s = typeof a === 'number' ? Math.trunc(a).toString(8) : `%!o(${goTypeName(a)}=${goString(a)})`
        break
      case 'b':
        s = typeof a === 'number' ? Math.trunc(a).toString(2) : `%!b(${goTypeName(a)}=${goString(a)})`
        break
      case 'c':
        s = typeof a === 'number' ? String.fromCodePoint(a) : `%!c(${goTypeName(a)}=${goString(a)})`
        break
      case 'T':
        s = goTypeName(a)
        break
      default:
        s = `%!${verb}(${goTypeName(a)}=${goString(a)})`
    }
    if (flags.includes('+') && typeof a === 'number' && a >= 0 && 'dfeg'.includes(verb)) s = '+' + s
    if (w !== undefined && [...s].length < w) {
      const pad = w - [...s].length
      s = flags.includes('-') ? s + ' '.repeat(pad) : flags.includes('0') && typeof a === 'number' ? (s.startsWith('-') ? '-' + '0'.repeat(pad) + s.slice(1) : '0'.repeat(pad) + s) : ' '.repeat(pad) + s
    }
    return s
  })
  if (n < args.length) out += `%!(EXTRA ${args.slice(n).map((a) => `${goTypeName(a)}=${goString(a)}`).join(', ')})`
  return out
}

function goTypeName(v: unknown): string {
  if (v === undefined || v === null) return '<nil>'
  if (typeof v === 'string') return 'string'
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64'
  if (Array.isArray(v)) return '[]interface {}'
  return 'map[string]interface {}'
}

function compare(name: string, a: unknown, b: unknown): number {
  const kind = (v: unknown): string => (typeof v === 'number' ? 'number' : typeof v === 'string' ? 'string' : typeof v === 'boolean' ? 'bool' : 'other')
  if (kind(a) !== kind(b)) throw new Error('incompatible types for comparison')
  if (kind(a) === 'other' || (name !== 'eq' && name !== 'ne' && kind(a) === 'bool')) throw new Error(`invalid type for comparison`)
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0
}

function indexInto(item: unknown, keys: unknown[]): unknown {
  let cur = item
  for (const k of keys) {
    if (cur === undefined || cur === null) throw new Error('index of untyped nil')
    if (Array.isArray(cur)) {
      if (typeof k !== 'number' || !Number.isInteger(k)) throw new Error(`cannot index slice/array with type ${goTypeName(k)}`)
      if (k < 0 || k >= cur.length) throw new Error(`error calling index: index out of range: ${k}`)
      cur = cur[k]
    } else if (typeof cur === 'object') {
      cur = (cur as Record<string, unknown>)[goString(k)]
    } else if (typeof cur === 'string') {
      if (typeof k !== 'number' || k < 0 || k >= cur.length) throw new Error(`error calling index: index out of range: ${String(k)}`)
      cur = Buffer.from(cur)[k]
    } else throw new Error(`can't index item of type ${goTypeName(cur)}`)
  }
  return cur
}

const builtins: Record<string, TemplateFunction> = {
  not: (a) => !truthy(a),
  len: (a) => {
    if (typeof a === 'string') return Buffer.byteLength(a)
    if (Array.isArray(a)) return a.length
    if (a !== null && typeof a === 'object') return Object.keys(a).length
    throw new Error(`error calling len: len of ${a === undefined || a === null ? 'nil pointer' : `type ${goTypeName(a)}`}`)
  },
  index: (item, ...keys) => indexInto(item, keys),
  slice: (item, ...idx) => {
    const [from = 0, to] = idx as number[]
    if (typeof item === 'string') return item.slice(from, to)
    if (Array.isArray(item)) return (item as unknown[]).slice(from, to)
    throw new Error(`can't slice item of type ${goTypeName(item)}`)
  },
  print: (...args) => goPrint(args),
  printf: (format, ...args) => goSprintf(String(format), args),
  println: (...args) => args.map(goString).join(' ') + '\n',
  eq: (a, ...bs) => {
    if (bs.length === 0) throw new Error('missing argument for comparison')
    return bs.some((b) => (a === undefined || a === null || b === undefined || b === null ? (a ?? null) === (b ?? null) : compare('eq', a, b) === 0))
  },
  ne: (a, b) => (a === undefined || a === null || b === undefined || b === null ? (a ?? null) !== (b ?? null) : compare('ne', a, b) !== 0),
  lt: (a, b) => compare('lt', a, b) < 0,
  le: (a, b) => compare('le', a, b) <= 0,
  gt: (a, b) => compare('gt', a, b) > 0,
  ge: (a, b) => compare('ge', a, b) >= 0,
  html: (...args) => goPrint(args).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;').replace(/\0/g, '\uFFFD'),
  js: (...args) =>
    goPrint(args).replace(/[\\'"<>&=\n\r\t]/g, (c) => ({ '\\': '\\\\', "'": "\\'", '"': '\\"', '<': '\\u003C', '>': '\\u003E', '&': '\\u0026', '=': '\\u003D', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!),
  urlquery: (...args) => encodeURIComponent(goPrint(args)).replace(/%20/g, '+'),
  call: (fn, ...args) => {
    if (typeof fn !== 'function') throw new Error(`non-function of type ${goTypeName(fn)}`)
    return (fn as TemplateFunction)(...args)
  },
}

/** The functions the docker CLI adds to every --format template. */
export const dockerFunctions: Record<string, TemplateFunction> = {
  // Go's encoding/json, without HTML escaping, as the docker CLI sets it.
  json: (v) => JSON.stringify(v === undefined ? null : v),
  split: (s, sep): string[] => String(s).split(String(sep)),
  join: (list, sep) => {
    if (!Array.isArray(list)) throw new ArgumentTypeError(0, `wrong type for value; expected []string; got ${goTypeName(list)}`)
    return list.map(goString).join(String(sep))
  },
  title: (s) => String(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, before: string, c: string) => before + c.toUpperCase()),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  pad: (s, prefix, suffix) => ' '.repeat(Number(prefix)) + String(s) + ' '.repeat(Number(suffix)),
  truncate: (s, length) => {
    const text = String(s)
    return [...text].length < Number(length) ? text : [...text].slice(0, Number(length)).join('')
  },
}

// ---- execution

/** `{{break}}` and `{{continue}}` unwind to their `{{range}}` as these. */
class Break extends Error {}
class Continue extends Error {}

interface Scope {
  vars: Array<[string, unknown]>
}

export class Template {
  readonly #nodes: Node[]
  readonly #src: string
  readonly #functions: Record<string, TemplateFunction>
  readonly #columnOffset: number
  #missingAsNil = false

  /** `columnOffset`: where `src` began in the text the user wrote, for the columns of errors on its first line. */
  constructor(src: string, functions: Record<string, TemplateFunction> = dockerFunctions, columnOffset = 0) {
    this.#src = src
    this.#functions = functions
    this.#columnOffset = columnOffset
    this.#nodes = new Parser(src, new Set(Object.keys(functions))).parse()
  }

  /**
   * Runs the template on `data`. With `missingAsNil`, a key an object does not have is nil (`<nil>`, false)
   * rather than Go's `<no value>` of a map: what a Go struct's omitted pointer field gives (`.State.Health`).
   */
  execute(data: unknown, opts: { missingAsNil?: boolean } = {}): string {
    this.#missingAsNil = opts.missingAsNil ?? false
    let out = ''
    const scope: Scope = { vars: [['$', data]] }
    this.#walk(this.#nodes, data, scope, (s) => (out += s))
    return out
  }

  #walk(nodes: Node[], dot: unknown, scope: Scope, write: (s: string) => void): void {
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          write(node.text)
          break
        case 'action': {
          const v = this.#pipeline(node.pipe, dot, scope)
          if (node.pipe.decl.length === 0) write(goString(v))
          break
        }
        case 'if':
        case 'with': {
          const mark = scope.vars.length
          const v = this.#pipeline(node.pipe, dot, scope)
          if (truthy(v)) this.#walk(node.list, node.kind === 'with' ? v : dot, scope, write)
          else if (node.elseList) this.#walk(node.elseList, dot, scope, write)
          scope.vars.length = mark
          break
        }
        case 'range':
          this.#range(node, dot, scope, write)
          break
        case 'break':
          throw new Break()
        case 'continue':
          throw new Continue()
      }
    }
  }

  #range(node: ControlNode, dot: unknown, scope: Scope, write: (s: string) => void): void {
    const mark = scope.vars.length
    const decl = node.pipe.decl
    const v = this.#pipeline({ ...node.pipe, decl: [] }, dot, scope)
    let items: Array<[unknown, unknown]>
    if (Array.isArray(v)) items = v.map((x, i) => [i, x])
    else if (v !== null && typeof v === 'object') items = Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])
    else if (typeof v === 'number' && Number.isInteger(v)) items = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i])
    else if (v === undefined || v === null) items = []
    else throw this.#execError(node.pipe.at, node.pipe.commands[0]!.args[0]!.text, `range can't iterate over ${goString(v)}`)
    if (items.length === 0) {
      if (node.elseList) this.#walk(node.elseList, dot, scope, write)
      scope.vars.length = mark
      return
    }
    for (const [key, value] of items) {
      scope.vars.length = mark
      if (decl.length === 1) scope.vars.push([decl[0]!, value])
      if (decl.length === 2) scope.vars.push([decl[0]!, key], [decl[1]!, value])
      try {
        this.#walk(node.list, value, scope, write)
      } catch (err) {
        if (err instanceof Break) break
        if (!(err instanceof Continue)) throw err
      }
    }
    scope.vars.length = mark
  }

  #pipeline(pipe: Pipeline, dot: unknown, scope: Scope): unknown {
    let value: unknown
    let first = true
    for (const cmd of pipe.commands) {
      value = this.#command(cmd, dot, scope, first ? [] : [value])
      first = false
    }
    for (const name of pipe.decl) {
      if (pipe.assign) {
        const slot = [...scope.vars].reverse().find(([n]) => n === name)
        if (!slot) throw this.#execError(pipe.at, name, `undefined variable: ${name}`)
        slot[1] = value
      } else scope.vars.push([name, value])
    }
    return value
  }

  #command(cmd: Command, dot: unknown, scope: Scope, final: unknown[]): unknown {
    const head = cmd.args[0]!
    const rest = cmd.args.slice(1)
    const args = (): unknown[] => [...rest.map((a) => this.#arg(a, dot, scope)), ...final]
    switch (head.kind) {
      case 'function': {
        const fn = builtins[head.name] ?? this.#functions[head.name]!
        if (head.name === 'and' || head.name === 'or') return this.#logic(head.name, rest, final, dot, scope, cmd)
        try {
          return fn(...args())
        } catch (err) {
          const arg = err instanceof ArgumentTypeError ? rest[err.index] : undefined
          if (arg && err instanceof ArgumentTypeError) throw this.#execError(arg.at, arg.text, err.message)
          throw this.#wrap(err, head.at, cmd.text, `error calling ${head.name}`)
        }
      }
      case 'field':
        return this.#field(head.base ? this.#arg(head.base, dot, scope) : dot, head, args, cmd)
      case 'variable': {
        const v = this.#variable(head, scope)
        if (head.names.length === 0) {
          if (rest.length > 0 || final.length > 0) throw this.#execError(head.at, head.text, `can't give argument to non-function ${head.text}`)
          return v
        }
        return this.#field(v, head, args, cmd)
      }
      default:
        if (rest.length > 0 || final.length > 0) throw this.#execError(head.at, head.text, `can't give argument to non-function ${head.text}`)
        return this.#arg(head, dot, scope)
    }
  }

  #logic(name: 'and' | 'or', rest: Arg[], final: unknown[], dot: unknown, scope: Scope, cmd: Command): unknown {
    const total = rest.length + final.length
    if (total === 0) throw this.#execError(cmd.at, name, `wrong number of args for ${name}: want at least 1 got 0`)
    let v: unknown
    for (let i = 0; i < total; i++) {
      v = i < rest.length ? this.#arg(rest[i]!, dot, scope) : final[i - rest.length]
      if (name === 'and' ? !truthy(v) : truthy(v)) return v
    }
    return v
  }

  #arg(a: Arg, dot: unknown, scope: Scope): unknown {
    switch (a.kind) {
      case 'dot':
        return dot
      case 'literal':
        return a.value
      case 'variable': {
        const v = this.#variable(a, scope)
        return a.names.length === 0 ? v : this.#field(v, a, () => [], undefined)
      }
      case 'field':
        return this.#field(a.base ? this.#arg(a.base, dot, scope) : dot, a, () => [], undefined)
      case 'pipeline': {
        const mark = scope.vars.length
        const v = this.#pipeline(a.pipe, dot, scope)
        scope.vars.length = mark
        return v
      }
      case 'function': {
        const fn = builtins[a.name] ?? this.#functions[a.name]!
        try {
          return fn()
        } catch (err) {
          throw this.#wrap(err, a.at, a.text, `error calling ${a.name}`)
        }
      }
    }
  }

  #variable(a: Extract<Arg, { kind: 'variable' }>, scope: Scope): unknown {
    const slot = [...scope.vars].reverse().find(([n]) => n === a.name)
    if (!slot) throw new TemplateError(`template: :${this.#line(a.at)}: undefined variable "${a.name}"`)
    return slot[1]
  }

  /** `.A.B.C` on `receiver`; the last name, when it is a function in the data, is called with the arguments. */
  #field(receiver: unknown, a: { names: string[]; at: number; text: string }, args: () => unknown[], cmd: Command | undefined): unknown {
    let cur = receiver
    for (const [i, name] of a.names.entries()) {
      const last = i === a.names.length - 1
      if (cur === undefined) return missing
      if (cur === null) {
        if (this.#missingAsNil) return null
        throw this.#execError(a.at, a.text, `nil pointer evaluating interface {}.${name}`)
      }
      if (typeof cur !== 'object' || Array.isArray(cur)) throw this.#execError(a.at, a.text, `can't evaluate field ${name} in type ${goTypeName(cur)}`)
      const record = cur as Record<string | symbol, unknown>
      if (!Object.hasOwn(record, name) && typeof record[name] !== 'function') {
        const type = record[structType]
        if (typeof type === 'string') throw this.#execError(a.at, a.text, `can't evaluate field ${name} in type ${type}`)
        if (this.#missingAsNil) {
          cur = null
          continue
        }
      }
      const v = record[name]
      if (typeof v === 'function') {
        const given = last ? args() : []
        try {
          cur = (v as TemplateFunction).apply(cur, given)
        } catch (err) {
          throw this.#wrap(err, a.at, a.text, `error calling ${name}`)
        }
        continue
      }
      if (last && cmd && args().length > 0) throw this.#execError(a.at, a.text, `can't give argument to non-function ${a.text}`)
      cur = v
    }
    return cur
  }

  #line(at: number): number {
    return this.#src.slice(0, at).split('\n').length
  }

  #execError(at: number, text: string, message: string): TemplateError {
    const before = this.#src.slice(0, at)
    const col = at - (before.lastIndexOf('\n') + 1) + (before.includes('\n') ? 0 : this.#columnOffset)
    return new TemplateError(`template: :${this.#line(at)}:${col}: executing "" at <${text}>: ${message}`)
  }

  #wrap(err: unknown, at: number, text: string, prefix: string): TemplateError {
    if (err instanceof TemplateError) return err
    const message = err instanceof Error ? err.message : String(err)
    return this.#execError(at, text, message.startsWith('error calling') ? message : `${prefix}: ${message}`)
  }
}
