import { invalid } from '../../lib/errors.ts'

/** Looks a build variable up: undefined when it is not set (which `${V-x}` tells apart from empty). */
export type Lookup = (name: string) => string | undefined

/**
 * Expands one word as Docker's Dockerfile lexer does: quotes removed (nothing expands inside single quotes),
 * the escape character taking the next character literally, and `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`,
 * `${V+w}`, `${V:?msg}`, `${V?msg}`, `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`, `${V/p/r}`, `${V//p/r}` replaced.
 * Whitespace is kept: the caller splits words first when the instruction takes several.
 */
export function expandWord(word: string, lookup: Lookup, escape = '\\'): string {
  return new Lexer(word, lookup, escape).word()
}

/** Expands variables only, quotes and escapes left as they are: an unquoted here-document's content. */
export function expandVariables(text: string, lookup: Lookup): string {
  return new Lexer(text, lookup, '\\', false).word()
}

/** Splits on whitespace outside quotes, then expands each word (ADD, COPY, EXPOSE, VOLUME, FROM). */
export function expandWords(text: string, lookup: Lookup, escape = '\\'): string[] {
  return splitWords(text, escape).map((w) => expandWord(w, lookup, escape))
}

/** Splits on whitespace outside quotes and escapes, keeping the quotes (they go on to expansion). */
export function splitWords(text: string, escape = '\\'): string[] {
  const words: string[] = []
  let cur = ''
  let quote: string | undefined
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quote === undefined && /\s/.test(c)) {
      if (inWord) words.push(cur)
      cur = ''
      inWord = false
      continue
    }
    inWord = true
    if (c === '$' && text[i + 1] === '{' && quote !== "'") {
      // `${V:-two words}` is one word.
      let depth = 0
      for (; i < text.length; i++) {
        cur += text[i]
        if (text[i] === '{') depth++
        else if (text[i] === '}' && --depth === 0) break
      }
      continue
    }
    if (c === escape && quote !== "'" && i + 1 < text.length) {
      cur += c + text[++i]!
      continue
    }
    if (quote === undefined && (c === '"' || c === "'")) quote = c
    else if (c === quote) quote = undefined
    cur += c
  }
  if (inWord) words.push(cur)
  return words
}

/**
 * Splits `KEY=VALUE KEY2="V 2"` (ENV, LABEL, ARG) into pairs, each key and value expanded. The legacy form
 * `KEY VALUE` (one pair, the rest of the line the value) is accepted when the first word has no `=`.
 */
export function expandPairs(text: string, lookup: Lookup, escape: string, opts: { valueRequired: boolean; instruction: string }): Array<[string, string | undefined]> {
  const words = splitWords(text, escape)
  if (words.length === 0) throw invalid(`${opts.instruction} requires at least one argument`)
  if (opts.valueRequired && !words[0]!.includes('=')) {
    if (words.length < 2) throw invalid(`${opts.instruction} must have two arguments`)
    const first = text.trimStart()
    const value = first.slice(first.indexOf(words[0]!) + words[0]!.length).trim()
    return [[words[0]!, expandWord(value, lookup, escape)]]
  }
  return words.map((w): [string, string | undefined] => {
    const eq = w.indexOf('=')
    if (eq < 0) {
      if (opts.valueRequired) throw invalid(`${opts.instruction} names can not be blank`)
      return [expandWord(w, lookup, escape), undefined]
    }
    const key = expandWord(w.slice(0, eq), lookup, escape)
    if (key === '') throw invalid(`${opts.instruction} names can not be blank`)
    return [key, expandWord(w.slice(eq + 1), lookup, escape)]
  })
}

class Lexer {
  readonly #s: string
  readonly #lookup: Lookup
  readonly #escape: string
  /** Whether quotes and escapes are syntax (words) or text (here-documents). */
  readonly #quotes: boolean
  #i = 0

  constructor(s: string, lookup: Lookup, escape: string, quotes = true) {
    this.#s = s
    this.#lookup = lookup
    this.#escape = escape
    this.#quotes = quotes
  }

  word(): string {
    return this.#until(() => false)
  }

  /** Reads until `stop` says so at an unquoted position, or the end. */
  #until(stop: (c: string) => boolean): string {
    let out = ''
    while (this.#i < this.#s.length) {
      const c = this.#s[this.#i]!
      if (stop(c)) break
      if (!this.#quotes) {
        if (c === '$') out += this.#dollar()
        else if (c === '\\' && this.#s[this.#i + 1] === '$') {
          out += '$'
          this.#i += 2
        } else {
          out += c
          this.#i++
        }
      } else if (c === "'") out += this.#singleQuoted()
      else if (c === '"') out += this.#doubleQuoted()
      else if (c === '$') out += this.#dollar()
      else if (c === this.#escape) {
        this.#i++
        if (this.#i < this.#s.length) out += this.#s[this.#i++]
        else out += c
      } else {
        out += c
        this.#i++
      }
    }
    return out
  }

  #singleQuoted(): string {
    const end = this.#s.indexOf("'", this.#i + 1)
    if (end < 0) throw invalid(`unexpected end of statement while looking for matching single-quote`)
    const out = this.#s.slice(this.#i + 1, end)
    this.#i = end + 1
    return out
  }

  #doubleQuoted(): string {
    this.#i++
    let out = ''
    while (this.#i < this.#s.length) {
      const c = this.#s[this.#i]!
      if (c === '"') {
        this.#i++
        return out
      }
      if (c === '$') out += this.#dollar()
      else if (c === this.#escape && this.#i + 1 < this.#s.length && ['"', '$', this.#escape].includes(this.#s[this.#i + 1]!)) {
        out += this.#s[this.#i + 1]
        this.#i += 2
      } else {
        out += c
        this.#i++
      }
    }
    throw invalid('unexpected end of statement while looking for matching double-quote')
  }

  #dollar(): string {
    this.#i++ // the $
    const c = this.#s[this.#i]
    if (c === '{') {
      this.#i++
      return this.#braced()
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.#s.slice(this.#i))
    if (!m) return '$'
    this.#i += m[0].length
    return this.#lookup(m[0]) ?? ''
  }

  #braced(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.#s.slice(this.#i))
    if (!m) throw invalid(`bad substitution: \${${this.#s.slice(this.#i, this.#s.indexOf('}', this.#i))}}`)
    const name = m[0]
    this.#i += name.length
    const value = this.#lookup(name)
    const rest = this.#s.slice(this.#i)
    const closing = (): string => {
      const word = this.#until((ch) => ch === '}')
      if (this.#s[this.#i] !== '}') throw invalid(`missing '}' in \${${name}`)
      this.#i++
      return word
    }
    if (rest.startsWith('}')) {
      this.#i++
      return value ?? ''
    }
    const op = /^(:-|:\+|:\?|-|\+|\?|##|#|%%|%|\/\/|\/)/.exec(rest)?.[0]
    if (!op) throw invalid(`unsupported modifier (${rest[0] ?? ''}) in substitution: \${${name}${rest.slice(0, rest.indexOf('}') + 1)}`)
    this.#i += op.length
    switch (op) {
      case ':-': {
        const w = closing()
        return value === undefined || value === '' ? w : value
      }
      case '-': {
        const w = closing()
        return value === undefined ? w : value
      }
      case ':+': {
        const w = closing()
        return value === undefined || value === '' ? '' : w
      }
      case '+': {
        const w = closing()
        return value === undefined ? '' : w
      }
      case ':?':
      case '?': {
        const w = closing()
        if (value === undefined || (op === ':?' && value === '')) throw invalid(`${name}: ${w === '' ? 'is not allowed to be unset' : w}`)
        return value
      }
      case '#':
      case '##': {
        const re = globToRegExp(closing(), op === '##')
        const v = value ?? ''
        const cut = longestOrShortestPrefix(v, re, op === '##')
        return v.slice(cut)
      }
      case '%':
      case '%%': {
        const re = globToRegExp(closing(), op === '%%')
        const v = value ?? ''
        return v.slice(0, suffixStart(v, re, op === '%%'))
      }
      default: {
        // `${V/pattern/replacement}` and `${V//pattern/replacement}`
        const pattern = this.#until((ch) => ch === '/' || ch === '}')
        let replacement = ''
        if (this.#s[this.#i] === '/') {
          this.#i++
          replacement = this.#until((ch) => ch === '}')
        }
        if (this.#s[this.#i] !== '}') throw invalid(`missing '}' in \${${name}`)
        this.#i++
        const re = new RegExp(globToRegExp(pattern, true).source.replace(/^\^|\$$/g, ''), op === '//' ? 'g' : '')
        return (value ?? '').replace(re, () => replacement)
      }
    }
  }
}

/** A shell pattern (`*`, `?`, `[...]`) as an anchored regular expression. */
function globToRegExp(pattern: string, greedy: boolean): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*') re += greedy ? '.*' : '.*?'
    else if (c === '?') re += '.'
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1)
      if (end < 0) re += '\\['
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`
        i = end
      }
    } else if (c === '\\' && i + 1 < pattern.length) re += escapeRegExpChar(pattern[++i]!)
    else re += escapeRegExpChar(c)
  }
  return new RegExp(`^${re}$`, 's')
}

function escapeRegExpChar(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c
}

/** Length of the shortest (or longest) prefix of `v` the pattern matches; 0 when none does. */
function longestOrShortestPrefix(v: string, re: RegExp, longest: boolean): number {
  if (longest) {
    for (let n = v.length; n >= 0; n--) if (re.test(v.slice(0, n))) return n
  } else {
    for (let n = 0; n <= v.length; n++) if (re.test(v.slice(0, n))) return n
  }
  return 0
}

/** Start of the shortest (or longest) suffix of `v` the pattern matches; `v.length` when none does. */
function suffixStart(v: string, re: RegExp, longest: boolean): number {
  if (longest) {
    for (let n = 0; n <= v.length; n++) if (re.test(v.slice(n))) return n
  } else {
    for (let n = v.length; n >= 0; n--) if (re.test(v.slice(n))) return n
  }
  return v.length
}
