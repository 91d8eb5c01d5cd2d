import { useEffect, useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'
import { JsonTree } from '../components/json-tree.tsx'
import { useLive } from '../live.ts'
import { FilesPanel } from './files.tsx'
import { LogsPanel } from './logs.tsx'
import { StatsPanel } from './stats.tsx'
import { TerminalPanel } from './terminal.tsx'

interface ContainerInspect {
  Id: string
  Name: string
  State: { Status: string; Running: boolean; ExitCode: number; StartedAt: string; FinishedAt: string; Health?: { Status: string } }
  Config: { Image: string; Cmd: string[] | null; Env: string[] | null; Labels: Record<string, string> | null }
  Mounts: Array<{ Type: string; Source: string; Destination: string; RW: boolean; Name?: string }>
  NetworkSettings: { Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null; Networks: Record<string, { IPAddress: string; Gateway: string }> | null }
}

const tabs = [
  ['overview', 'Overview'],
  ['logs', 'Logs'],
  ['terminal', 'Terminal'],
  ['stats', 'Stats'],
  ['processes', 'Processes'],
  ['files', 'Files'],
  ['inspect', 'Inspect'],
] as const

export function ContainerDetail(props: { id: string; tab: string }): preact.JSX.Element {
  const { data: c, error } = useLive<ContainerInspect>(`/api/containers/${encodeURIComponent(props.id)}`, ['container'])
  const [actionError, setActionError] = useState<unknown>(undefined)
  const act = (action: string): void => {
    setActionError(undefined)
    api('POST', `/api/containers/${encodeURIComponent(props.id)}/${action}`).catch((err: unknown) => setActionError(err))
  }
  if (!c) return <ErrorBox error={error} />
  const name = c.Name.replace(/^\//, '')
  return (
    <section>
      <h1>
        <a href="#/containers">Containers</a> / {name} <span class={`state state-${c.State.Status}`}>{c.State.Status}</span>
      </h1>
      <div class="toolbar">
        {['start', 'stop', 'restart', 'pause', 'unpause', 'kill'].map((a) => (
          <button type="button" data-action={a} onClick={() => act(a)}>
            {a[0]!.toUpperCase() + a.slice(1)}
          </button>
        ))}
      </div>
      <ErrorBox error={error ?? actionError} />
      <nav class="tabs" role="tablist">
        {tabs.map(([id, title]) => (
          <a role="tab" aria-selected={props.tab === id} class={props.tab === id ? 'active' : ''} href={`#/containers/${props.id}/${id}`}>
            {title}
          </a>
        ))}
      </nav>
      {props.tab === 'overview' && <Overview c={c} />}
      {props.tab === 'inspect' && <JsonTree value={c} />}
      {props.tab === 'logs' && <LogsPanel id={c.Id} running={c.State.Running} />}
      {props.tab === 'terminal' && (c.State.Running ? <TerminalPanel id={c.Id} /> : <p class="muted">The container is not running.</p>)}
      {props.tab === 'stats' && <StatsPanel id={c.Id} />}
      {props.tab === 'processes' && <Processes id={c.Id} running={c.State.Running} />}
      {props.tab === 'files' && <FilesPanel base={`/api/containers/${encodeURIComponent(c.Id)}/files`} />}
    </section>
  )
}

function Overview(props: { c: ContainerInspect }): preact.JSX.Element {
  const { c } = props
  const ports = Object.entries(c.NetworkSettings.Ports ?? {}).flatMap(([inner, bindings]) => (bindings ?? []).map((b) => ({ inner, host: b.HostPort })))
  return (
    <div class="cards">
      <dl class="card">
        <dt>ID</dt>
        <dd class="mono">{c.Id}</dd>
        <dt>Image</dt>
        <dd>{c.Config.Image}</dd>
        <dt>Command</dt>
        <dd class="mono">{(c.Config.Cmd ?? []).join(' ')}</dd>
        <dt>Exit code</dt>
        <dd>{c.State.Running ? '—' : c.State.ExitCode}</dd>
        {c.State.Health && (
          <>
            <dt>Health</dt>
            <dd>{c.State.Health.Status}</dd>
          </>
        )}
      </dl>
      <div class="card">
        <h2>Ports</h2>
        {ports.length === 0 && <p class="muted">None published.</p>}
        {ports.map((p) => (
          <div>
            <a href={`http://${location.hostname}:${p.host}`} target="_blank" rel="noreferrer noopener">
              {p.host}
            </a>{' '}
            → {p.inner}
          </div>
        ))}
        <h2>Networks</h2>
        {Object.entries(c.NetworkSettings.Networks ?? {}).map(([n, e]) => (
          <div>
            {n}: {e.IPAddress || '—'}
          </div>
        ))}
      </div>
      <div class="card">
        <h2>Mounts</h2>
        {c.Mounts.length === 0 && <p class="muted">None.</p>}
        {c.Mounts.map((m) => (
          <div class="mono">
            {m.Type} {m.Name ?? m.Source} → {m.Destination} {m.RW ? '' : '(ro)'}
          </div>
        ))}
      </div>
    </div>
  )
}

function Processes(props: { id: string; running: boolean }): preact.JSX.Element {
  const [top, setTop] = useState<{ Titles: string[]; Processes: string[][] } | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  useEffect(() => {
    if (!props.running) return
    api<{ Titles: string[]; Processes: string[][] }>('GET', `/api/containers/${encodeURIComponent(props.id)}/top`).then(setTop, setError)
  }, [props.id, props.running])
  if (!props.running) return <p class="muted">The container is not running.</p>
  return (
    <>
      <ErrorBox error={error} />
      {top && (
        <table class="grid">
          <thead>
            <tr>
              {top.Titles.map((t) => (
                <th>{t}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {top.Processes.map((p) => (
              <tr>
                {p.map((v) => (
                  <td class="mono">{v}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  )
}
