import { useEffect, useState } from 'preact/hooks'
import { api, formatBytes, shortId } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'
import { VirtualList } from '../components/virtual-list.tsx'

interface LayersSummary {
  id: string
  history: Array<{ createdBy: string; created: string; empty: boolean; layer?: number }>
  layers: Array<{ digest: string; bytes: number; entries: number }>
  wastedBytes: number
  efficiency: number
  inefficiencies: Array<{ path: string; count: number; bytes: number }>
}

interface FileRow {
  path: string
  size: number
  kind: string
  mark?: 'added' | 'modified' | 'deleted'
  layer?: number
  link?: string
}

const markLetter = { added: 'A', modified: 'M', deleted: 'D' } as const

/**
 * The layer explorer: each layer with the step that made it and what it did to the files (added, modified, deleted),
 * the merged tree with the layer each file comes from, and the bytes wasted on files later overwritten or deleted.
 */
export function LayersView(props: { id: string }): preact.JSX.Element {
  const [summary, setSummary] = useState<LayersSummary | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [selected, setSelected] = useState<number | 'merged'>('merged')
  const [files, setFiles] = useState<FileRow[]>([])
  const [filter, setFilter] = useState('')
  const base = `/api/images/${encodeURIComponent(props.id)}`
  useEffect(() => {
    api<LayersSummary>('GET', `${base}/layers`).then((s) => {
      setSummary(s)
      setSelected(s.layers.length > 0 ? s.layers.length - 1 : 'merged')
    }, setError)
  }, [props.id])
  useEffect(() => {
    if (!summary) return
    setFiles([])
    api<FileRow[]>('GET', selected === 'merged' ? `${base}/merged` : `${base}/layers/${selected}`).then(setFiles, setError)
  }, [summary, selected])
  if (!summary) return error ? <ErrorBox error={error} /> : <p class="muted">Reading the image's layers…</p>
  const shown = filter ? files.filter((f) => f.path.includes(filter)) : files
  const total = summary.layers.reduce((n, l) => n + l.bytes, 0)
  return (
    <section>
      <h1>
        <a href="#/images">Images</a> / {shortId(props.id)} / layers
      </h1>
      <ErrorBox error={error} />
      <dl class="figures">
        <div>
          <dt>Layers</dt>
          <dd>{summary.layers.length}</dd>
        </div>
        <div>
          <dt>Total</dt>
          <dd>{formatBytes(total)}</dd>
        </div>
        <div>
          <dt>Wasted</dt>
          <dd data-testid="wasted" data-bytes={summary.wastedBytes}>
            {formatBytes(summary.wastedBytes)}
          </dd>
        </div>
        <div>
          <dt>Efficiency</dt>
          <dd data-testid="efficiency" data-value={summary.efficiency}>
            {(summary.efficiency * 100).toFixed(2)}%
          </dd>
        </div>
      </dl>
      <div class="split">
        <div>
          <h2>Steps</h2>
          <table class="grid" data-testid="layers">
            <thead>
              <tr>
                <th>Layer</th>
                <th>Size</th>
                <th>Created by</th>
              </tr>
            </thead>
            <tbody>
              <tr class={selected === 'merged' ? 'selected' : ''} tabIndex={0} onClick={() => setSelected('merged')} onKeyDown={(e) => e.key === 'Enter' && setSelected('merged')}>
                <td colSpan={3}>Merged tree (every file and the layer it comes from)</td>
              </tr>
              {summary.history.map((h) =>
                h.empty ? (
                  <tr class="muted">
                    <td>—</td>
                    <td>0 B</td>
                    <td class="mono">{h.createdBy}</td>
                  </tr>
                ) : (
                  <tr
                    class={selected === h.layer ? 'selected' : ''}
                    data-layer={h.layer}
                    tabIndex={0}
                    onClick={() => setSelected(h.layer!)}
                    onKeyDown={(e) => e.key === 'Enter' && setSelected(h.layer!)}
                  >
                    <td>{h.layer}</td>
                    <td>{formatBytes(summary.layers[h.layer!]?.bytes ?? 0)}</td>
                    <td class="mono">{h.createdBy || shortId(summary.layers[h.layer!]?.digest ?? '')}</td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
          <h2>Wasted space</h2>
          <table class="grid" data-testid="inefficiencies">
            <thead>
              <tr>
                <th>Path</th>
                <th>Layers</th>
                <th>Bytes</th>
              </tr>
            </thead>
            <tbody>
              {summary.inefficiencies.filter((i) => i.bytes > 0).map((i) => (
                <tr data-path={i.path}>
                  <td class="mono">/{i.path}</td>
                  <td>{i.count}</td>
                  <td>{formatBytes(i.bytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <h2>{selected === 'merged' ? 'Merged tree' : `Layer ${selected}`}</h2>
          <input type="search" aria-label="Filter files" placeholder="Filter paths" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
          <VirtualList
            label="Files"
            testId="files"
            items={shown}
            rowHeight={20}
            height="calc(100vh - 300px)"
            row={(f) => (
              <div class={`file mark-${f.mark ?? 'none'}`} data-path={f.path} data-mark={f.mark ?? ''}>
                <span class="mark">{f.mark ? markLetter[f.mark] : `L${f.layer}`}</span>
                <span class="mono path">
                  /{f.path}
                  {f.kind === 'dir' ? '/' : ''}
                  {f.link ? ` → ${f.link}` : ''}
                </span>
                <span class="size">{f.kind === 'dir' ? '' : formatBytes(f.size)}</span>
              </div>
            )}
          />
        </div>
      </div>
    </section>
  )
}
