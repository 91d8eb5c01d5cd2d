import { useState } from 'preact/hooks'
import { api, shortId } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'
import { useLive } from '../live.ts'

export interface ContainerSummary {
  Id: string
  Names: string[]
  Image: string
  ImageID: string
  Command: string
  Created: number
  State: string
  Status: string
  Ports: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }>
  Labels: Record<string, string>
}

const projectLabel = 'com.docker.compose.project'
const actions = ['start', 'stop', 'restart', 'pause', 'unpause', 'kill', 'remove'] as const

export const nameOf = (c: { Names: string[]; Id: string }): string => (c.Names[0] ?? shortId(c.Id)).replace(/^\//, '')

/** The containers, live from the engine's events, with filters and actions on many at once. */
export function ContainersView(): preact.JSX.Element {
  const { data, error } = useLive<ContainerSummary[]>('/api/containers', ['container'])
  const [text, setText] = useState('')
  const [state, setState] = useState('')
  const [project, setProject] = useState('')
  const [label, setLabel] = useState('')
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [actionError, setActionError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(false)
  const all = data ?? []
  const projects = [...new Set(all.map((c) => c.Labels[projectLabel]).filter((p): p is string => !!p))].sort()
  const [labelKey, labelValue] = label.split('=', 2)
  const shown = all.filter(
    (c) =>
      (!text || nameOf(c).includes(text) || c.Image.includes(text) || c.Id.startsWith(text)) &&
      (!state || c.State === state) &&
      (!project || c.Labels[projectLabel] === project) &&
      (!labelKey || (labelKey in c.Labels && (labelValue === undefined || c.Labels[labelKey] === labelValue))),
  )
  const act = async (action: (typeof actions)[number]): Promise<void> => {
    setBusy(true)
    setActionError(undefined)
    const ids = [...selected]
    const results = await Promise.allSettled(
      ids.map((id) => (action === 'remove' ? api('DELETE', `/api/containers/${id}?force=1`) : api('POST', `/api/containers/${id}/${action}`))),
    )
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed.length > 0) setActionError(new Error(failed.map((f) => (f.reason as Error).message).join('\n')))
    if (action === 'remove') setSelected(new Set())
    setBusy(false)
  }
  const toggle = (id: string): void => {
    const next = new Set(selected)
    if (next.has(id)) next.delete(id)
    else next.add(id)
    setSelected(next)
  }
  return (
    <section>
      <h1>Containers</h1>
      <div class="toolbar">
        <input type="search" placeholder="Name, image or ID" aria-label="Filter by name, image or ID" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <select aria-label="State" value={state} onChange={(e) => setState(e.currentTarget.value)}>
          <option value="">Any state</option>
          {['running', 'paused', 'exited', 'created', 'restarting', 'dead'].map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
        <select aria-label="Compose project" value={project} onChange={(e) => setProject(e.currentTarget.value)}>
          <option value="">Any project</option>
          {projects.map((p) => (
            <option value={p}>{p}</option>
          ))}
        </select>
        <input type="search" placeholder="label or label=value" aria-label="Filter by label" value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
      </div>
      <div class="toolbar" aria-label="Actions on the selected containers">
        {actions.map((a) => (
          <button type="button" disabled={busy || selected.size === 0} onClick={() => void act(a)} data-action={a}>
            {a[0]!.toUpperCase() + a.slice(1)}
          </button>
        ))}
        <span class="muted">{selected.size > 0 ? `${selected.size} selected` : ''}</span>
      </div>
      <ErrorBox error={error ?? actionError} />
      <table class="grid" data-testid="containers">
        <thead>
          <tr>
            <th>
              <input
                type="checkbox"
                aria-label="Select all"
                checked={shown.length > 0 && shown.every((c) => selected.has(c.Id))}
                onChange={(e) => setSelected(e.currentTarget.checked ? new Set(shown.map((c) => c.Id)) : new Set())}
              />
            </th>
            <th>Name</th>
            <th>Image</th>
            <th>State</th>
            <th>Status</th>
            <th>Ports</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((c) => (
            <tr key={c.Id} data-name={nameOf(c)} data-state={c.State}>
              <td>
                <input type="checkbox" aria-label={`Select ${nameOf(c)}`} checked={selected.has(c.Id)} onChange={() => toggle(c.Id)} />
              </td>
              <td>
                <a href={`#/containers/${c.Id}`}>{nameOf(c)}</a>
              </td>
              <td>{c.Image}</td>
              <td>
                <span class={`state state-${c.State}`}>{c.State}</span>
              </td>
              <td>{c.Status}</td>
              <td>
                {c.Ports.filter((p) => p.PublicPort).map((p) => (
                  <a class="port" href={`http://${location.hostname}:${p.PublicPort}`} target="_blank" rel="noreferrer noopener">
                    {p.PublicPort}→{p.PrivatePort}/{p.Type}
                  </a>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && shown.length === 0 && <p class="muted">No containers{all.length > 0 ? ' match' : ''}.</p>}
    </section>
  )
}
