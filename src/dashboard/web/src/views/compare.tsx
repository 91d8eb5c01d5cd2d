import { useEffect, useState } from 'preact/hooks'
import { api, formatBytes, shortId } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'
import { useLive } from '../live.ts'

interface ComparedFile {
  path: string
  kind: string
  size: number
  sizeBefore?: number
}

interface Comparison {
  a: string
  b: string
  sharedLayers: string[]
  sharedBytes: number
  added: { total: number; files: ComparedFile[] }
  removed: { total: number; files: ComparedFile[] }
  modified: { total: number; files: ComparedFile[] }
}

interface ImageRow {
  Id: string
  RepoTags: string[] | null
}

const label = (i: ImageRow): string => (i.RepoTags ?? []).find((t) => t !== '<none>:<none>') ?? shortId(i.Id)

/** Two images side by side: the layers they share, and the files added, removed and modified from one to the other. */
export function CompareView(props: { a?: string; b?: string }): preact.JSX.Element {
  const images = useLive<ImageRow[]>('/api/images', ['image'])
  const [a, setA] = useState(props.a ?? '')
  const [b, setB] = useState(props.b ?? '')
  const [result, setResult] = useState<Comparison | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  useEffect(() => {
    setResult(undefined)
    if (!a || !b) return
    setError(undefined)
    api<Comparison>('GET', `/api/images/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`).then(setResult, setError)
  }, [a, b])
  const pick = (value: string, set: (v: string) => void, name: string): preact.JSX.Element => (
    <select aria-label={name} value={value} onChange={(e) => set(e.currentTarget.value)}>
      <option value="">image…</option>
      {(images.data ?? []).map((i) => (
        <option key={i.Id} value={i.Id}>
          {label(i)}
        </option>
      ))}
    </select>
  )
  const list = (kind: 'added' | 'removed' | 'modified', mark: string): preact.JSX.Element | undefined => {
    const part = result?.[kind]
    if (!part) return undefined
    return (
      <div data-testid={`compare-${kind}`} data-total={part.total}>
        <h3>
          {kind} ({part.total}
          {part.total > part.files.length ? `, the first ${part.files.length} shown` : ''})
        </h3>
        {part.files.map((f) => (
          <div class={`file mark-${kind === 'removed' ? 'deleted' : kind}`} key={f.path} data-path={f.path}>
            <span class="mark">{mark}</span>
            <span class="path">{f.path}</span>
            <span class="size">{f.kind === 'dir' ? 'dir' : f.sizeBefore !== undefined ? `${formatBytes(f.sizeBefore)} → ${formatBytes(f.size)}` : formatBytes(f.size)}</span>
          </div>
        ))}
      </div>
    )
  }
  return (
    <section>
      <h1>Compare images</h1>
      <div class="toolbar">
        {pick(a, setA, 'First image')} → {pick(b, setB, 'Second image')}
      </div>
      <ErrorBox error={images.error ?? error} />
      {result && (
        <>
          <p data-testid="compare-shared" data-layers={result.sharedLayers.length}>
            {result.sharedLayers.length} shared {result.sharedLayers.length === 1 ? 'layer' : 'layers'}, {formatBytes(result.sharedBytes)} of the second image's files unchanged from them
          </p>
          {list('added', 'A')}
          {list('removed', 'D')}
          {list('modified', 'M')}
        </>
      )}
    </section>
  )
}
