import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { openChannel } from '../api.ts'
import { ansiSpans, plainText } from '../ansi.tsx'
import { ErrorBox } from '../components/error-box.tsx'
import { VirtualList } from '../components/virtual-list.tsx'

interface LogLine {
  stderr: boolean
  time: string
  text: string
}

/** Timestamps as Docker sends them with `timestamps=1`: RFC3339 with nanoseconds, then a space. */
const stamped = /^(\d{4}-\d\d-\d\dT\S+) (.*)$/s

/**
 * A container's log, streamed: follow keeps the view at the end until you scroll up; a regular expression filters
 * the lines or highlights them; since and until bound it; the download is the whole log from the engine.
 */
export function LogsPanel(props: { id: string; running: boolean }): preact.JSX.Element {
  const [lines, setLines] = useState<LogLine[]>([])
  const [query, setQuery] = useState('')
  const [mode, setMode] = useState<'filter' | 'highlight'>('filter')
  const [since, setSince] = useState('')
  const [until, setUntil] = useState('')
  const [showTimes, setShowTimes] = useState(false)
  const [error, setError] = useState<unknown>(undefined)
  const buffer = useRef<LogLine[]>([])
  /** The last line's time: unix seconds for `since`, and as sent, to skip lines already shown on a resume. */
  const last = useRef('')
  const lastIso = useRef('')
  /** Set on a reconnect: lines up to this time were shown before the drop. */
  const resumeAfter = useRef('')
  useEffect(() => {
    buffer.current = []
    last.current = ''
    lastIso.current = ''
    setLines([])
    const partial = { o: '', e: '' }
    let flush: ReturnType<typeof setTimeout> | undefined
    const close = openChannel(
      '/ws/logs',
      () => {
        const p: Record<string, string> = { id: props.id, timestamps: '1', follow: until ? '0' : '1' }
        // After a drop, resume from the last line seen (lines at that instant are skipped as already shown).
        resumeAfter.current = lastIso.current
        const from = last.current || (since ? String(Date.parse(since) / 1000) : '')
        if (from) p['since'] = from
        if (until) p['until'] = String(Date.parse(until) / 1000)
        return p
      },
      {
        onMessage(raw) {
          if (typeof raw !== 'string') return
          const msg = JSON.parse(raw) as { b?: Array<[number, string]>; error?: string }
          if (msg.error) return setError(new Error(msg.error))
          for (const [streamNo, chunk] of msg.b ?? []) {
            const stream = streamNo === 2 ? 'e' : 'o'
            const parts = (partial[stream] + chunk).split('\n')
            partial[stream] = parts.pop() ?? ''
            for (const p of parts) {
              const m = stamped.exec(p)
              const line = { stderr: stream === 'e', time: m?.[1] ?? '', text: m ? m[2]! : p }
              if (resumeAfter.current && line.time) {
                if (line.time <= resumeAfter.current) continue
                resumeAfter.current = ''
              }
              buffer.current.push(line)
            }
          }
          flush ??= setTimeout(() => {
            flush = undefined
            const tail = buffer.current[buffer.current.length - 1]
            if (tail?.time) {
              lastIso.current = tail.time
              last.current = String(Date.parse(tail.time) / 1000)
            }
            setLines(buffer.current.slice())
          }, 50)
        },
      },
    )
    return () => {
      close()
      if (flush) clearTimeout(flush)
    }
  }, [props.id, since, until])
  let pattern: RegExp | undefined
  let patternError: unknown
  try {
    pattern = query ? new RegExp(query, 'i') : undefined
  } catch (err) {
    patternError = err
  }
  const shown = useMemo(() => (pattern && mode === 'filter' ? lines.filter((l) => pattern.test(plainText(l.text))) : lines), [lines, query, mode])
  return (
    <div class="logs">
      <div class="toolbar">
        <input type="search" aria-label="Search the log (regular expression)" placeholder="Search (regular expression)" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <select aria-label="Search mode" value={mode} onChange={(e) => setMode(e.currentTarget.value as 'filter' | 'highlight')}>
          <option value="filter">Filter</option>
          <option value="highlight">Highlight</option>
        </select>
        <label>
          Since <input type="datetime-local" step="1" value={since} onChange={(e) => setSince(e.currentTarget.value)} />
        </label>
        <label>
          Until <input type="datetime-local" step="1" value={until} onChange={(e) => setUntil(e.currentTarget.value)} />
        </label>
        <label>
          <input type="checkbox" checked={showTimes} onChange={(e) => setShowTimes(e.currentTarget.checked)} /> Timestamps
        </label>
        <a class="button" href={`/api/containers/${encodeURIComponent(props.id)}/logs?timestamps=1`} download>
          Download
        </a>
        <span class="muted" data-testid="log-count">
          {shown.length} of {lines.length} lines
        </span>
      </div>
      <ErrorBox error={patternError ?? error} />
      <VirtualList
        label="Log lines"
        testId="log-lines"
        items={shown}
        rowHeight={18}
        height="calc(100vh - 260px)"
        follow
        row={(l) => (
          <div class={`logline${l.stderr ? ' stderr' : ''}`}>
            {showTimes && <span class="time">{l.time} </span>}
            {ansiSpans(l.text, mode === 'highlight' ? pattern : undefined)}
          </div>
        )}
      />
    </div>
  )
}
