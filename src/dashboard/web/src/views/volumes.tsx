import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'
import { useLive } from '../live.ts'

interface Volume {
  Name: string
  Driver: string
  Mountpoint: string
  CreatedAt?: string
  Labels: Record<string, string> | null
}

export function VolumesView(): preact.JSX.Element {
  const { data, error } = useLive<Volume[]>('/api/volumes', ['volume'])
  const [actionError, setActionError] = useState<unknown>(undefined)
  return (
    <section>
      <h1>Volumes</h1>
      <ErrorBox error={error ?? actionError} />
      <table class="grid" data-testid="volumes">
        <thead>
          <tr>
            <th>Name</th>
            <th>Driver</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(data ?? []).map((v) => (
            <tr key={v.Name} data-name={v.Name}>
              <td class="mono">{v.Name}</td>
              <td>{v.Driver}</td>
              <td>{v.CreatedAt ?? ''}</td>
              <td>
                <button type="button" onClick={() => void api('DELETE', `/api/volumes/${encodeURIComponent(v.Name)}`).catch(setActionError)}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}
