import { useEffect, useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'
import { useLive } from '../live.ts'
import { StackLogs } from './stack-logs.tsx'

interface Stack {
  project: string
  workingDir: string
  configFiles: string[]
  services: Array<{ service: string; containers: Array<{ id: string; name: string; state: string; status: string }> }>
}

type ComposeAction = 'up' | 'down' | 'pull' | 'restart'

/** The editor, with CodeMirror, loaded only when a page opens it: most never do, and it is half the page's script. */
function LazyComposeEditor(props: { project: string }): preact.JSX.Element {
  const [editor, setEditor] = useState<((p: { project: string }) => preact.JSX.Element) | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  useEffect(() => {
    import('./compose-editor.tsx').then((m) => setEditor(() => m.ComposeEditor), setError)
  }, [])
  if (error) return <ErrorBox error={error} />
  const Editor = editor
  return Editor ? <Editor project={props.project} /> : <p class="muted">Loading the editor…</p>
}

/**
 * Compose projects found by their labels, whoever made them: services, their containers, and actions on the lot —
 * start and stop of its containers, and up, down, pull and restart through the compose library (from the files the
 * labels name, on this machine); its merged logs; its compose file in an editor.
 */
export function StacksView(): preact.JSX.Element {
  const { data, error } = useLive<Stack[]>('/api/stacks', ['container'])
  const [actionError, setActionError] = useState<unknown>(undefined)
  const [output, setOutput] = useState<{ project: string; lines: string[] } | undefined>(undefined)
  const [open, setOpen] = useState<{ project: string; panel: 'logs' | 'edit' } | undefined>(undefined)
  const [busy, setBusy] = useState('')
  const act = async (stack: Stack, action: 'start' | 'stop'): Promise<void> => {
    setActionError(undefined)
    const ids = stack.services.flatMap((s) => s.containers.map((c) => c.id))
    const failed = (await Promise.allSettled(ids.map((id) => api('POST', `/api/containers/${id}/${action}`)))).filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed.length > 0) setActionError(new Error(failed.map((f) => (f.reason as Error).message).join('\n')))
  }
  const compose = async (stack: Stack, action: ComposeAction): Promise<void> => {
    setActionError(undefined)
    setBusy(`${stack.project} ${action}`)
    try {
      const { lines } = await api<{ lines: string[] }>('POST', `/api/stacks/${encodeURIComponent(stack.project)}/${action}`)
      setOutput({ project: stack.project, lines })
    } catch (err) {
      setActionError(err)
    } finally {
      setBusy('')
    }
  }
  const toggle = (project: string, panel: 'logs' | 'edit'): void => setOpen(open?.project === project && open.panel === panel ? undefined : { project, panel })
  return (
    <section>
      <h1>Stacks</h1>
      <ErrorBox error={error ?? actionError} />
      {data && data.length === 0 && <p class="muted">No compose project has containers on this engine.</p>}
      {(data ?? []).map((stack) => {
        const all = stack.services.flatMap((s) => s.containers)
        const running = all.filter((c) => c.state === 'running').length
        return (
          <div class="card stack" data-project={stack.project}>
            <h2>
              {stack.project} <span class="muted" data-testid="stack-running">{`${running}/${all.length} running`}</span>
            </h2>
            <div class="muted mono">{stack.configFiles.join(', ') || stack.workingDir}</div>
            <div class="toolbar">
              {(['up', 'down', 'pull', 'restart'] as const).map((a) => (
                <button type="button" data-action={a} disabled={busy !== ''} onClick={() => void compose(stack, a)}>
                  {busy === `${stack.project} ${a}` ? `${a[0]!.toUpperCase() + a.slice(1)}…` : a[0]!.toUpperCase() + a.slice(1)}
                </button>
              ))}
              {(['start', 'stop'] as const).map((a) => (
                <button type="button" data-action={a} onClick={() => void act(stack, a)}>
                  {a[0]!.toUpperCase() + a.slice(1)}
                </button>
              ))}
              <button type="button" data-action="logs" onClick={() => toggle(stack.project, 'logs')}>
                Logs
              </button>
              <button type="button" data-action="edit" onClick={() => toggle(stack.project, 'edit')}>
                Edit compose file
              </button>
            </div>
            {output?.project === stack.project && (
              <pre class="log" data-testid="stack-output">
                {output.lines.join('\n')}
              </pre>
            )}
            {open?.project === stack.project && open.panel === 'logs' && <StackLogs project={stack.project} />}
            {open?.project === stack.project && open.panel === 'edit' && <LazyComposeEditor project={stack.project} />}
            <table class="grid">
              <thead>
                <tr>
                  <th>Service</th>
                  <th>Container</th>
                  <th>State</th>
                  <th>Status</th>
                </tr>
              </thead>
              <tbody>
                {stack.services.flatMap((s) =>
                  s.containers.map((c) => (
                    <tr data-service={s.service}>
                      <td>{s.service}</td>
                      <td>
                        <a href={`#/containers/${c.id}`}>{c.name}</a>
                      </td>
                      <td>
                        <span class={`state state-${c.state}`}>{c.state}</span>
                      </td>
                      <td>{c.status}</td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          </div>
        )
      })}
    </section>
  )
}
