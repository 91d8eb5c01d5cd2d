import { useState } from 'preact/hooks'
import { api, formatBytes } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'
import { useLive } from '../live.ts'
import { FilesPanel } from './files.tsx'

interface Volume {
  Name: string
  Driver: string
  Mountpoint: string
  CreatedAt?: string
  Labels: Record<string, string> | null
  UsageData?: { Size: number; RefCount: number } | null
}

export function VolumesView(): preact.JSX.Element {
  const { data, error } = useLive<Volume[]>('/api/volumes', ['volume'])
  const [actionError, setActionError] = useState<unknown>(undefined)
  const [browsing, setBrowsing] = useState<string | undefined>(undefined)
  return (
    <section>
      <h1>Volumes</h1>
      <ErrorBox error={error ?? actionError} />
      <table class="grid" data-testid="volumes">
        <thead>
          <tr>
            <th>Name</th>
            <th>Driver</th>
            <th>Size</th>
            <th>In use by</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(data ?? []).map((v) => (
            <tr key={v.Name} data-name={v.Name}>
              <td class="mono">{v.Name}</td>
              <td>{v.Driver}</td>
              <td>{v.UsageData && v.UsageData.Size >= 0 ? formatBytes(v.UsageData.Size) : '—'}</td>
              <td>{v.UsageData && v.UsageData.RefCount >= 0 ? `${v.UsageData.RefCount} container${v.UsageData.RefCount === 1 ? '' : 's'}` : '—'}</td>
              <td>{v.CreatedAt ?? ''}</td>
              <td>
                <button type="button" onClick={() => setBrowsing(browsing === v.Name ? undefined : v.Name)}>
                  {browsing === v.Name ? 'Close' : 'Browse'}
                </button>{' '}
                <button type="button" onClick={() => void api('DELETE', `/api/volumes/${encodeURIComponent(v.Name)}`).catch(setActionError)}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {browsing && (
        <div data-testid="volume-files">
          <h2>
            Files of <span class="mono">{browsing}</span> (read-only)
          </h2>
          <FilesPanel key={browsing} base={`/api/volumes/${encodeURIComponent(browsing)}/files`} readOnly />
        </div>
      )}
    </section>
  )
}
