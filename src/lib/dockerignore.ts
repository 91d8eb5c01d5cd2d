import { posix } from 'node:path'

interface Pattern {
  negated: boolean
  re: RegExp
  /** The pattern's text, cleaned. */
  text: string
}

/**
 * `.dockerignore` rules as Docker applies them: one pattern per line, `#` comments, paths cleaned and taken
 * from the context root; `*`, `?` and `[...]` match within one path element, `**` any number of elements; a
 * pattern that matches a directory excludes what is below it; `!` re-includes; the last matching line wins.
 */
export class IgnoreRules {
  readonly #patterns: Pattern[]

  constructor(text: string) {
    this.#patterns = []
    for (const raw of text.split(/\r?\n/)) {
      let line = raw.trim()
      if (line === '' || line.startsWith('#')) continue
      const negated = line.startsWith('!')
      if (negated) line = line.slice(1).trim()
      line = posix.normalize(line.replace(/^\/+/, '')).replace(/\/+$/, '')
      if (line === '.' || line === '') continue
      this.#patterns.push({ negated, re: patternToRegExp(line), text: line })
    }
  }

  get empty(): boolean {
    return this.#patterns.length === 0
  }

  /** Whether some `!` rule might re-include a path below an excluded directory. */
  get hasExceptions(): boolean {
    return this.#patterns.some((p) => p.negated)
  }

  /** Whether `rel` (a context-relative path, `/`-separated) is excluded. */
  excludes(rel: string): boolean {
    const parents: string[] = []
    for (let d = posix.dirname(rel); d !== '.' && d !== '/'; d = posix.dirname(d)) parents.push(d)
    let excluded = false
    for (const p of this.#patterns) {
      if (p.re.test(rel) || parents.some((d) => p.re.test(d))) excluded = !p.negated
    }
    return excluded
  }
}

/** A pattern as a regular expression over a whole cleaned path. */
export function patternToRegExp(pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++
        // `**/` matches zero or more whole elements; a trailing `**` matches everything below.
        if (pattern[i + 1] === '/') {
          i++
          re += '(?:.*/)?'
        } else re += '.*'
      } else re += '[^/]*'
    } else if (c === '?') re += '[^/]'
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1)
      if (end < 0) re += '\\['
      else {
        let cls = pattern.slice(i + 1, end)
        if (cls.startsWith('^') || cls.startsWith('!')) cls = `^${cls.slice(1)}`
        re += `[${cls.replace(/\\/g, '\\\\')}]`
        i = end
      }
    } else if (c === '\\' && i + 1 < pattern.length) re += escapeChar(pattern[++i]!)
    else re += escapeChar(c)
  }
  return new RegExp(`^${re}$`, 's')
}

function escapeChar(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c
}
