import { useEffect, useState } from 'preact/hooks'
import { openChannel } from '../api.ts'

/** A stack's containers' logs merged as they come, each line after its container's name, as `compose logs -f`. */
export function StackLogs(props: { project: string }): preact.JSX.Element {
  const [lines, setLines] = useState<Array<{ c: string; s: number; t: string }>>([])
  const [ended, setEnded] = useState('')
  useEffect(() => {
    setLines([])
    const close = openChannel('/ws/stack-logs', () => ({ project: props.project, tail: '100' }), {
      onMessage: (data) => {
        const m = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data)) as { c?: string; s?: number; t?: string; error?: string }
        if (m.error) setEnded(m.error)
        else if (m.c !== undefined && m.t !== undefined) setLines((old) => [...old.slice(-4999), ...m.t!.split('\n').filter((t, i, all) => t !== '' || i < all.length - 1).map((t) => ({ c: m.c!, s: m.s ?? 1, t }))])
      },
      onEnd: (reason) => setEnded(reason),
    })
    return close
  }, [props.project])
  return (
    <div>
      <pre class="log" data-testid="stack-logs">
        {lines.map((l) => (
          <div class={l.s === 2 ? 'stderr' : ''} data-container={l.c}>
            <span class="muted">{`${l.c}  | `}</span>
            {l.t}
          </div>
        ))}
      </pre>
      {ended && <p class="muted">{ended}</p>}
    </div>
  )
}
