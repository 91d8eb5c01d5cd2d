import { useEffect, useState } from 'preact/hooks'
import { formatBytes, openChannel, session } from '../api.ts'

interface ProgressMessage {
  id?: string
  status?: string
  progressDetail?: { current?: number; total?: number }
  error?: string
}

interface LayerRow {
  id: string
  status: string
  current: number
  total: number
}

/** The statuses of a layer that is done: downloaded and unpacked, uploaded, or already there. */
const finished = /complete|Pushed|exists|Mounted/i

export interface TransferRequest {
  kind: 'pull' | 'push'
  image: string
  /** Tells the transfers apart when the same image is pulled twice. */
  key: number
}

/**
 * A pull or a push as `docker pull` draws it: a row per layer with its status and a bar, the lines without a layer
 * (`Digest: …`, `Status: …`) below. The engine's error, when it gives one, ends it.
 */
export function Transfer(props: { request: TransferRequest }): preact.JSX.Element {
  const { kind, image } = props.request
  const [layers, setLayers] = useState<LayerRow[]>([])
  const [lines, setLines] = useState<string[]>([])
  const [state, setState] = useState<'running' | 'done' | 'failed' | 'interrupted'>('running')
  const [error, setError] = useState('')
  useEffect(() => {
    const rows = new Map<string, LayerRow>()
    let failed = false
    return openChannel(`/ws/${kind}`, () => ({ image, csrf: session.value?.csrf ?? '' }), {
      onMessage(data) {
        const m = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data)) as ProgressMessage
        if (m.error) {
          failed = true
          setError(m.error)
          return
        }
        if (m.id && m.status && !/^(Pulling from|The push refers to)/.test(m.status)) {
          const row = rows.get(m.id) ?? { id: m.id, status: '', current: 0, total: 0 }
          row.status = m.status
          if (m.progressDetail?.total) {
            row.current = m.progressDetail.current ?? 0
            row.total = m.progressDetail.total
          } else if (finished.test(m.status)) row.current = row.total
          rows.set(m.id, row)
          setLayers([...rows.values()])
        } else if (m.status) setLines((l) => [...l, m.id ? `${m.id}: ${m.status}` : m.status!])
      },
      onEnd(reason) {
        // The server ends a finished transfer with `done`; a dropped connection leaves it going on the engine, unseen.
        setState(failed ? 'failed' : reason === 'done' ? 'done' : 'interrupted')
      },
    }, { reconnect: false })
  }, [props.request.key])
  return (
    <div class="transfer" data-testid="transfer" data-kind={kind} data-image={image} data-state={state}>
      <h3>
        {kind === 'pull' ? 'Pulling' : 'Pushing'} {image}: <span data-testid="transfer-state">{state}</span>
      </h3>
      {error && <p class="error" data-testid="transfer-error">{error}</p>}
      <table class="grid">
        <tbody>
          {layers.map((l) => (
            <tr key={l.id} data-layer={l.id} data-status={l.status}>
              <td class="mono">{l.id}</td>
              <td>{l.status}</td>
              <td>
                <progress max={l.total || 1} value={l.total ? l.current : finished.test(l.status) ? 1 : 0} />
              </td>
              <td>{l.total ? `${formatBytes(l.current)} / ${formatBytes(l.total)}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {lines.map((l) => (
        <div class="muted mono" key={l}>
          {l}
        </div>
      ))}
    </div>
  )
}
