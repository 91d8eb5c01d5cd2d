import { useState } from 'preact/hooks'
import { ago, api, formatBytes, shortId } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'
import { Transfer, type TransferRequest } from '../components/transfer.tsx'
import { useLive } from '../live.ts'

interface ImageRow {
  Id: string
  RepoTags: string[] | null
  Created: number
  Size: number
  SharedSize: number
  Containers: number
}

/**
 * The images: size, shared size, containers using them, dangling ones; pull and push with each layer's progress;
 * tag, remove and prune; into the layer explorer.
 */
export function ImagesView(): preact.JSX.Element {
  const { data, error } = useLive<ImageRow[]>('/api/images', ['image', 'container'])
  const [actionError, setActionError] = useState<unknown>(undefined)
  const remove = (id: string): void => {
    setActionError(undefined)
    api('DELETE', `/api/images/${encodeURIComponent(id)}`).catch((err: unknown) => setActionError(err))
  }
  const tag = (id: string): void => {
    const ref = prompt('New tag (repository:tag)')
    if (!ref) return
    const colon = ref.lastIndexOf(':')
    const [repo, t] = colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, undefined]
    api('POST', `/api/images/${encodeURIComponent(id)}/tag`, { repo, tag: t }).catch((err: unknown) => setActionError(err))
  }
  const [transfers, setTransfers] = useState<TransferRequest[]>([])
  const [reference, setReference] = useState('')
  const start = (kind: TransferRequest['kind'], image: string): void => setTransfers((list) => [{ kind, image, key: Date.now() + Math.random() }, ...list].slice(0, 5))
  const [pruned, setPruned] = useState('')
  const prune = (all: boolean): void => {
    if (!confirm(all ? 'Remove every image no container uses?' : 'Remove the dangling images?')) return
    setActionError(undefined)
    api<{ ImagesDeleted: unknown[] | null; SpaceReclaimed: number }>('POST', `/api/images/prune${all ? '?all=1' : ''}`)
      .then((r) => setPruned(`${(r.ImagesDeleted ?? []).filter((x) => 'Deleted' in (x as object)).length} deleted, ${formatBytes(r.SpaceReclaimed)} reclaimed`))
      .catch((err: unknown) => setActionError(err))
  }
  return (
    <section>
      <h1>Images</h1>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault()
          if (reference.trim()) start('pull', reference.trim())
        }}
      >
        <input aria-label="Image to pull" placeholder="registry/repository:tag" value={reference} onInput={(e) => setReference(e.currentTarget.value)} />
        <button type="submit">Pull</button>
        <button type="button" data-action="prune" onClick={() => prune(false)}>
          Prune dangling
        </button>
        <button type="button" data-action="prune-all" onClick={() => prune(true)}>
          Prune unused
        </button>
        <a href="#/images/compare">Compare two images</a>
        {pruned && <span data-testid="pruned">{pruned}</span>}
      </form>
      {transfers.map((r) => (
        <Transfer key={r.key} request={r} />
      ))}
      <ErrorBox error={error ?? actionError} />
      <table class="grid" data-testid="images">
        <thead>
          <tr>
            <th>Tags</th>
            <th>ID</th>
            <th>Created</th>
            <th>Size</th>
            <th>Shared</th>
            <th>Containers</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(data ?? []).map((i) => {
            const tags = (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>')
            return (
              <tr key={i.Id} data-id={i.Id}>
                <td>{tags.length > 0 ? tags.join(', ') : <span class="muted">&lt;none&gt; (dangling)</span>}</td>
                <td class="mono">{shortId(i.Id)}</td>
                <td>{ago(i.Created)}</td>
                <td>{formatBytes(i.Size)}</td>
                <td>{i.SharedSize >= 0 ? formatBytes(i.SharedSize) : '—'}</td>
                <td>{i.Containers}</td>
                <td class="actions">
                  <a href={`#/images/${encodeURIComponent(i.Id)}/layers`}>Layers</a>
                  <button type="button" onClick={() => tag(i.Id)}>
                    Tag
                  </button>
                  {tags.map((t) => (
                    <button type="button" key={t} data-push={t} onClick={() => start('push', t)}>
                      Push {t}
                    </button>
                  ))}
                  <button type="button" onClick={() => remove(i.Id)}>
                    Remove
                  </button>
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </section>
  )
}
