import { useEffect, useState } from 'preact/hooks'
import { api, session } from '../api.ts'

interface Engines {
  current: string | null
  shown: string
  engines: Array<{ name: string; host: string; description: string }>
}

/**
 * The engine the dashboard talks to, and where the CLI has other contexts, a choice of them: switching reloads the
 * page, every view then showing the engine chosen.
 */
export function EngineSwitch(): preact.JSX.Element {
  const [engines, setEngines] = useState<Engines | undefined>(undefined)
  const [error, setError] = useState('')
  useEffect(() => {
    if (session.value?.canSwitch) api<Engines>('GET', '/api/engines').then(setEngines, (err: unknown) => setError((err as Error).message))
  }, [session.value?.canSwitch])
  const use = async (name: string): Promise<void> => {
    setError('')
    try {
      await api('POST', '/api/engines/use', { name })
      location.reload()
    } catch (err) {
      setError((err as Error).message)
    }
  }
  return (
    <div class="engine" title="The engine this dashboard talks to" data-testid="engine">
      <div data-testid="engine-name">{session.value?.engine ?? ''}</div>
      {engines && engines.engines.length > 1 && (
        <select aria-label="Engine" value={engines.current ?? ''} onChange={(e) => void use(e.currentTarget.value)}>
          {engines.current === null && <option value="">(as started)</option>}
          {engines.engines.map((e) => (
            <option value={e.name} title={e.description}>
              {`${e.name} — ${e.host}`}
            </option>
          ))}
        </select>
      )}
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
    </div>
  )
}
