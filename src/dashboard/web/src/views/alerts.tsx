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

interface Rule {
  kind: string
  count?: number
  minutes?: number
  percent?: number
}

interface AlertsPayload {
  rules: Rule[]
  history: Alert[]
}

const kinds = ['unhealthy', 'exit-nonzero', 'oom', 'restarts', 'cpu', 'memory'] as const
/** A rule of a kind with the numbers it needs, kept from the old one where they fit. */
const ruleOfKind = (kind: string, old: Rule): Rule =>
  kind === 'restarts' ? { kind, count: old.count ?? 3, minutes: old.minutes ?? 5 } : kind === 'cpu' || kind === 'memory' ? { kind, percent: old.percent ?? 90, minutes: old.minutes ?? 5 } : { kind }

/** The rules as a form: a kind and its numbers per row; saved together, checked by the server. */
function RulesEditor(props: { rules: Rule[]; onSaved: (rules: Rule[]) => void }): preact.JSX.Element {
  const [draft, setDraft] = useState<Rule[]>(props.rules)
  const [error, setError] = useState<unknown>(undefined)
  const [saved, setSaved] = useState(false)
  const change = (i: number, rule: Rule): void => {
    setSaved(false)
    setDraft(draft.map((r, j) => (j === i ? rule : r)))
  }
  const number = (i: number, r: Rule, field: 'count' | 'minutes' | 'percent'): preact.JSX.Element => (
    <label>
      {` ${field} `}
      <input type="number" aria-label={`Rule ${i + 1} ${field}`} value={r[field] ?? ''} onInput={(e) => change(i, { ...r, [field]: Number(e.currentTarget.value) })} />
    </label>
  )
  const save = async (): Promise<void> => {
    setError(undefined)
    try {
      const { rules } = await api<{ rules: Rule[] }>('PUT', '/api/alerts/rules', { rules: draft })
      setSaved(true)
      props.onSaved(rules)
    } catch (err) {
      setError(err)
    }
  }
  return (
    <div data-testid="rules-editor">
      {draft.map((r, i) => (
        <div class="toolbar" data-rule={i}>
          <select aria-label={`Rule ${i + 1} kind`} value={r.kind} onChange={(e) => change(i, ruleOfKind(e.currentTarget.value, r))}>
            {kinds.map((k) => (
              <option value={k}>{k}</option>
            ))}
          </select>
          {r.kind === 'restarts' && number(i, r, 'count')}
          {(r.kind === 'cpu' || r.kind === 'memory') && number(i, r, 'percent')}
          {(r.kind === 'restarts' || r.kind === 'cpu' || r.kind === 'memory') && number(i, r, 'minutes')}
          <button type="button" aria-label={`Remove rule ${i + 1}`} onClick={() => (setSaved(false), setDraft(draft.filter((_, j) => j !== i)))}>
            Remove
          </button>
        </div>
      ))}
      <div class="toolbar">
        <button type="button" onClick={() => (setSaved(false), setDraft([...draft, { kind: 'unhealthy' }]))}>
          Add a rule
        </button>
        <button type="button" data-action="save-rules" onClick={() => void save()}>
          Save rules
        </button>
        {saved && <span class="muted" data-testid="rules-saved">Saved</span>}
      </div>
      <ErrorBox error={error} />
    </div>
  )
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
  const [editing, setEditing] = useState(false)
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
      {data && !editing && (
        <button type="button" data-action="edit-rules" onClick={() => setEditing(true)}>
          Edit rules
        </button>
      )}
      {data && editing && <RulesEditor rules={data.rules} onSaved={(rules) => setData({ ...data, rules })} />}
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
