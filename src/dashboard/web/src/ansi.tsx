import type { ComponentChildren } from 'preact'

const escape = String.fromCharCode(0x1b)

/** Splits text with ANSI SGR colour codes into styled spans; other escape sequences are dropped. */
export function ansiSpans(text: string, highlight?: RegExp): ComponentChildren[] {
  const out: ComponentChildren[] = []
  let fg = ''
  let bold = false
  const pattern = new RegExp(`${escape}\\[([0-9;]*)([A-Za-z])`, 'g')
  let at = 0
  const push = (s: string): void => {
    if (!s) return
    const cls = [fg && `ansi-${fg}`, bold && 'ansi-bold'].filter(Boolean).join(' ')
    out.push(<span class={cls || undefined}>{highlight ? highlighted(s, highlight) : s}</span>)
  }
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    push(text.slice(at, m.index))
    at = m.index + m[0].length
    if (m[2] !== 'm') continue
    for (const code of (m[1] || '0').split(';').map(Number)) {
      if (code === 0) {
        fg = ''
        bold = false
      } else if (code === 1) bold = true
      else if (code === 22) bold = false
      else if (code === 39) fg = ''
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) fg = String(code)
    }
  }
  push(text.slice(at))
  return out
}

function highlighted(s: string, re: RegExp): ComponentChildren[] {
  const parts: ComponentChildren[] = []
  let at = 0
  const global = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`)
  for (let m = global.exec(s); m; m = global.exec(s)) {
    if (m[0] === '') {
      global.lastIndex++
      continue
    }
    parts.push(s.slice(at, m.index), <mark>{m[0]}</mark>)
    at = m.index + m[0].length
  }
  parts.push(s.slice(at))
  return parts
}

/** The text without escape sequences, for searching. */
export const plainText = (text: string): string => (text.includes(escape) ? text.replace(escapeSequences, '') : text)
const escapeSequences = new RegExp(`${escape}\\[[0-9;]*[A-Za-z]`, 'g')
