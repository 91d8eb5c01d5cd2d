import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'
import { useLive } from '../live.ts'

interface Stack {
  project: string
  workingDir: string
  configFiles: string[]
  services: Array<{ service: string; containers: Array<{ id: string; name: string; state: string; status: string }> }>
}

/** Compose projects found by their labels, whoever made them: services, their containers, and actions on the lot. */
export function StacksView(): preact.JSX.Element {
  const { data, error } = useLive<Stack[]>('/api/stacks', ['container'])
  const [actionError, setActionError] = useState<unknown>(undefined)
  const act = async (stack: Stack, action: 'start' | 'stop' | 'restart'): Promise<void> => {
    setActionError(undefined)
    const ids = stack.services.flatMap((s) => s.containers.map((c) => c.id))
    const failed = (await Promise.allSettled(ids.map((id) => api('POST', `/api/containers/${id}/${action}`)))).filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed.length > 0) setActionError(new Error(failed.map((f) => (f.reason as Error).message).join('\n')))
  }
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
              {(['start', 'stop', 'restart'] as const).map((a) => (
                <button type="button" data-action={a} onClick={() => void act(stack, a)}>
                  {a[0]!.toUpperCase() + a.slice(1)}
                </button>
              ))}
            </div>
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
