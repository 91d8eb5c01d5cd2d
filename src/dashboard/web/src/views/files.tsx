import { useEffect, useState } from 'preact/hooks'
import { api, formatBytes, session } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'

interface Listing {
  path: string
  entries: Array<{ name: string; kind: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other'; size: number; modified: number; link?: string }>
}

const join = (dir: string, name: string): string => (dir.endsWith('/') ? dir + name : `${dir}/${name}`)
const parent = (dir: string): string => dir.replace(/\/[^/]+\/?$/, '') || '/'

/**
 * Files under `base` (a container's, running or stopped, or a volume's): browse, download (a directory as a tar),
 * and unless `readOnly`, upload into the directory shown.
 */
export function FilesPanel(props: { base: string; readOnly?: boolean }): preact.JSX.Element {
  const [path, setPath] = useState('/')
  const [listing, setListing] = useState<Listing | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [reload, setReload] = useState(0)
  const { base } = props
  useEffect(() => {
    setError(undefined)
    api<Listing>('GET', `${base}?path=${encodeURIComponent(path)}`).then(setListing, setError)
  }, [base, path, reload])
  const uploadFiles = async (files: FileList | null): Promise<void> => {
    for (const file of files ?? []) {
      const res = await fetch(`${base}?path=${encodeURIComponent(path)}&name=${encodeURIComponent(file.name)}`, {
        method: 'PUT',
        headers: { 'X-CSRF-Token': session.value?.csrf ?? '', 'Content-Type': 'application/octet-stream' },
        body: file,
      })
      if (!res.ok) {
        setError(new Error(((await res.json().catch(() => ({}))) as { message?: string }).message ?? `upload failed: ${res.status}`))
        return
      }
    }
    setReload(reload + 1)
  }
  return (
    <div>
      <div class="toolbar">
        <button type="button" disabled={path === '/'} onClick={() => setPath(parent(path))}>
          Up
        </button>
        <span class="mono" data-testid="files-path">
          {path}
        </span>
        <a class="button" href={`${base}/download?path=${encodeURIComponent(path)}`} download>
          Download this directory
        </a>
        {!props.readOnly && (
          <label class="button">
            Upload here <input type="file" multiple hidden aria-label="Upload files" onChange={(e) => void uploadFiles(e.currentTarget.files)} />
          </label>
        )}
      </div>
      <ErrorBox error={error} />
      <table class="grid" data-testid="files-list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Size</th>
            <th>Modified</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(listing?.entries ?? []).map((e) => (
            <tr data-name={e.name} data-kind={e.kind}>
              <td class="mono">
                {e.kind === 'dir' ? (
                  <a href="#" onClick={(ev) => (ev.preventDefault(), setPath(join(path, e.name)))}>
                    {e.name}/
                  </a>
                ) : (
                  e.name
                )}
                {e.link ? ` → ${e.link}` : ''}
              </td>
              <td>{e.kind === 'file' ? formatBytes(e.size) : ''}</td>
              <td>{new Date(e.modified * 1000).toLocaleString()}</td>
              <td>
                {e.kind !== 'symlink' && (
                  <a href={`${base}/download?path=${encodeURIComponent(join(path, e.name))}`} download>
                    Download
                  </a>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
