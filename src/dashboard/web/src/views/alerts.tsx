import { signal } from '@preact/signals'
import { useEffect, useState } from 'preact/hooks'
import { api, openChannel } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'

export interface Alert {
  time: number
  kind: string
  container: { id: string; name: string }
  message: string
}

/** Alerts fired since the page opened (the sidebar counts them), newest last. */
export const liveAlerts = signal<Alert[]>([])

/** Follows alerts for the whole page: a count in the sidebar and, when allowed, a browser notification each. */
export function followAlerts(): () => void {
  return openChannel('/ws/alerts', () => ({}), {
    onMessage(raw) {
      if (typeof raw !== 'string') return
      const alert = JSON.parse(raw) as Alert
      liveAlerts.value = [...liveAlerts.value, alert]
      if ('Notification' in window && Notification.permission === 'granted') new Notification('cais', { body: alert.message, tag: `${alert.kind}/${alert.container.id}` })
    },
  })
}

interface AlertsPayload {
  rules: Array<{ kind: string; count?: number; minutes?: number; percent?: number }>
  history: Alert[]
}

const ruleText = (r: AlertsPayload['rules'][number]): string => {
  switch (r.kind) {
    case 'unhealthy':
      return 'A container turns unhealthy'
    case 'exit-nonzero':
      return 'A container exits with a code other than 0'
    case 'oom':
      return 'A container is killed for lack of memory'
    case 'restarts':
      return `A container restarts more than ${r.count} times in ${r.minutes} min`
    default:
      return `${r.kind === 'cpu' ? 'CPU' : 'Memory (of the limit)'} above ${r.percent}% for ${r.minutes} min`
  }
}

export function AlertsView(): preact.JSX.Element {
  const [data, setData] = useState<AlertsPayload | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [permission, setPermission] = useState('Notification' in window ? Notification.permission : 'unsupported')
  useEffect(() => {
    api<AlertsPayload>('GET', '/api/alerts').then(setData, setError)
  }, [liveAlerts.value.length])
  return (
    <section>
      <h1>Alerts</h1>
      <ErrorBox error={error} />
      <div class="toolbar">
        {permission === 'default' && (
          <button type="button" onClick={() => void Notification.requestPermission().then(setPermission)}>
            Show alerts as notifications
          </button>
        )}
        {permission === 'granted' && <span class="muted">Alerts show as browser notifications.</span>}
      </div>
      <h2>Rules</h2>
      <ul data-testid="alert-rules">
        {(data?.rules ?? []).map((r) => (
          <li>{ruleText(r)}</li>
        ))}
      </ul>
      <h2>Fired</h2>
      <table class="grid" data-testid="alert-history">
        <thead>
          <tr>
            <th>Time</th>
            <th>Rule</th>
            <th>Container</th>
            <th>What happened</th>
          </tr>
        </thead>
        <tbody>
          {[...(data?.history ?? [])].reverse().map((a) => (
            <tr data-kind={a.kind} data-container={a.container.name}>
              <td>{new Date(a.time).toLocaleString()}</td>
              <td>{a.kind}</td>
              <td>
                <a href={`#/containers/${a.container.id}`}>{a.container.name}</a>
              </td>
              <td>{a.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.history.length === 0 && <p class="muted">Nothing has fired.</p>}
    </section>
  )
}
