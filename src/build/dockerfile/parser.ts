import { invalid } from '../../lib/errors.ts'

/** A here-document attached to an instruction (`RUN <<EOF`, `COPY <<EOF /file`). */
export interface Heredoc {
  name: string
  content: string
  /** `<<-EOF`: leading tabs stripped from each line. */
  chomp: boolean
  /** `<<"EOF"` or `<<'EOF'`: no variable expansion in the content. */
  quoted: boolean
}

export interface Flag {
  name: string
  /** Undefined for a bare `--flag`. */
  value: string | undefined
}

/**
 * One Dockerfile instruction as written: its keyword (upper case), its `--flags`, and the rest of its line
 * (continuations joined), with its here-documents. Nothing is expanded here.
 */
export interface Instruction {
  keyword: string
  flags: Flag[]
  /** The arguments after the flags, continuation lines joined, leading and trailing space trimmed. */
  rest: string
  heredocs: Heredoc[]
  /** 1-based line of the keyword, and the last line the instruction took. */
  line: number
  endLine: number
  /** The instruction as written on its first line to its last, continuations joined (for messages and history). */
  original: string
}

export interface Dockerfile {
  /** `# name=value` parser directives at the top, names in lower case. */
  directives: Map<string, string>
  escape: '\\' | '`'
  instructions: Instruction[]
  /** Non-fatal notes, e.g. an ignored `# syntax` directive. */
  warnings: string[]
}

export const KEYWORDS = new Set([
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
])
const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD'])
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check'])

/** A parse error that names the file, line and column, as a user needs to find it. */
export function parseError(file: string, line: number, column: number, message: string): Error {
  return invalid(`dockerfile parse error on line ${line}: ${message} (${file}:${line}:${column})`)
}

/**
 * Parses a Dockerfile's text into its directives and instructions: comments dropped, continuation lines
 * joined (blank and comment lines inside a continuation skipped, as Docker does), here-documents collected.
 */
export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const directives = new Map<string, string>()
  const warnings: string[] = []
  let i = 0
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(lines[i]!)
    if (!m) break
    const name = m[1]!.toLowerCase()
    if (!KNOWN_DIRECTIVES.has(name)) break
    if (directives.has(name)) throw parseError(file, i + 1, 1, `only one ${name} parser directive can be used`)
    directives.set(name, m[2]!)
  }
  const escapeValue = directives.get('escape') ?? '\\'
  if (escapeValue !== '\\' && escapeValue !== '`') throw parseError(file, 1, 1, `invalid escape token '${escapeValue}' does not match ` + '` or \\')
  const escape = escapeValue
  if (directives.has('syntax')) warnings.push(`the syntax directive (${directives.get('syntax')}) is ignored: cais builds with its own Dockerfile frontend`)

  const instructions: Instruction[] = []
  const continuation = new RegExp(`${escapeRegExp(escape)}[ \\t]*$`)
  while (i < lines.length) {
    const first = lines[i]!
    const trimmed = first.trim()
    if (trimmed === '' || trimmed.startsWith('#')) {
      i++
      continue
    }
    const startLine = i + 1
    let joined = ''
    let current = first
    for (;;) {
      if (continuation.test(current)) {
        joined += current.replace(continuation, '')
        i++
        // Blank and comment lines inside a continuation are skipped; the end of the file ends it.
        while (i < lines.length && (lines[i]!.trim() === '' || lines[i]!.trim().startsWith('#'))) i++
        if (i >= lines.length) break
        current = lines[i]!
        continue
      }
      joined += current
      i++
      break
    }
    const endOfLine = i
    const m = /^\s*(\S+)(?:\s+|$)([\s\S]*)$/.exec(joined)!
    const keyword = m[1]!.toUpperCase()
    if (!KEYWORDS.has(keyword)) throw parseError(file, startLine, first.indexOf(m[1]!) + 1, `unknown instruction: ${m[1]!}`)
    const { flags, rest } = splitFlags(m[2]!)
    const heredocs: Heredoc[] = []
    if (HEREDOC_KEYWORDS.has(keyword)) {
      for (const marker of heredocMarkers(rest)) {
        const body: string[] = []
        let found = false
        while (i < lines.length) {
          const l = lines[i++]!
          const candidate = marker.chomp ? l.replace(/^\t+/, '') : l
          if (candidate === marker.name) {
            found = true
            break
          }
          body.push(candidate)
        }
        if (!found) throw parseError(file, startLine, 1, `unterminated heredoc ${marker.name}`)
        heredocs.push({ ...marker, content: body.length > 0 ? `${body.join('\n')}\n` : '' })
      }
    }
    instructions.push({ keyword, flags, rest: rest.trim(), heredocs, line: startLine, endLine: endOfLine, original: joined.trim() })
  }
  return { directives, escape, instructions, warnings }
}

/** Splits leading `--name[=value]` flags from an instruction's arguments. */
export function splitFlags(args: string): { flags: Flag[]; rest: string } {
  const flags: Flag[] = []
  let rest = args.replace(/^\s+/, '')
  for (;;) {
    const m = /^--([a-zA-Z][a-zA-Z0-9-]*)(?:=("(?:[^"\\]|\\.)*"|\S*))?(?:\s+|$)/.exec(rest)
    if (!m) break
    let value = m[2]
    if (value !== undefined && value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1)
    flags.push({ name: m[1]!, value })
    rest = rest.slice(m[0].length)
  }
  return { flags, rest }
}

/** The here-document markers on an instruction line, in order (`<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`). */
function heredocMarkers(line: string): Array<Omit<Heredoc, 'content'>> {
  const out: Array<Omit<Heredoc, 'content'>> = []
  const re = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g
  for (let m = re.exec(line); m; m = re.exec(line)) {
    // `<<<` is a here-string, not a here-document.
    if (m.index > 0 && line[m.index - 1] === '<') continue
    out.push({ name: m[3]!, chomp: m[1] === '-', quoted: m[2] !== '' })
  }
  return out
}

/**
 * The exec (JSON array) form of CMD, ENTRYPOINT, RUN, SHELL, VOLUME, COPY and ADD, or undefined for the shell
 * form. Docker falls back to the shell form when the text is not a JSON array of strings.
 */
export function parseJsonForm(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined
  try {
    const parsed: unknown = JSON.parse(rest)
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed
  } catch {
    // not JSON: the shell form
  }
  return undefined
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
