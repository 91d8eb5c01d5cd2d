import '@xterm/xterm/css/xterm.css'
import 'uplot/dist/uPlot.min.css'
import './style.css'
import { signal } from '@preact/signals'
import { render } from 'preact'
import { useEffect } from 'preact/hooks'
import { connectionLost, loadSession, session } from './api.ts'
import { ErrorBox } from './components/error-box.tsx'
import { AlertsView, followAlerts, liveAlerts } from './views/alerts.tsx'
import { ContainerDetail } from './views/container-detail.tsx'
import { HistoryView } from './views/history.tsx'
import { ContainersView } from './views/containers.tsx'
import { EventsView } from './views/events.tsx'
import { ImagesView } from './views/images.tsx'
import { EngineSwitch } from './components/engine-switch.tsx'
import { CompareView } from './views/compare.tsx'
import { LayersView } from './views/layers.tsx'
import { NetworksView } from './views/networks.tsx'
import { StacksView } from './views/stacks.tsx'
import { SystemView } from './views/system.tsx'
import { VolumesView } from './views/volumes.tsx'

/** The page's place: `#/containers`, `#/containers/ID/logs`, `#/images/ID/layers`… */
const route = signal(location.hash.slice(1) || '/containers')
window.addEventListener('hashchange', () => (route.value = location.hash.slice(1) || '/containers'))
const sessionError = signal<unknown>(undefined)

const sections = [
  ['/containers', 'Containers'],
  ['/stacks', 'Stacks'],
  ['/images', 'Images'],
  ['/volumes', 'Volumes'],
  ['/networks', 'Networks'],
  ['/events', 'Events'],
  ['/history', 'History'],
  ['/alerts', 'Alerts'],
  ['/system', 'System'],
] as const

function View(): preact.JSX.Element {
  const parts = route.value.split('/').filter(Boolean).map(decodeURIComponent)
  switch (parts[0]) {
    case 'containers':
      return parts[1] ? <ContainerDetail id={parts[1]} tab={parts[2] ?? 'overview'} /> : <ContainersView />
    case 'images':
      if (parts[1] === 'compare') return <CompareView a={parts[2]} b={parts[3]} />
      return parts[1] && parts[2] === 'layers' ? <LayersView id={parts[1]} /> : <ImagesView />
    case 'stacks':
      return <StacksView />
    case 'volumes':
      return <VolumesView />
    case 'networks':
      return <NetworksView />
    case 'events':
      return <EventsView />
    case 'system':
      return <SystemView />
    case 'history':
      return <HistoryView />
    case 'alerts':
      return <AlertsView />
    default:
      return <p>No such page.</p>
  }
}

function App(): preact.JSX.Element {
  useEffect(() => {
    let stop: (() => void) | undefined
    loadSession().then(
      () => (stop = followAlerts()),
      (err: unknown) => (sessionError.value = err),
    )
    return () => stop?.()
  }, [])
  const current = route.value.split('/')[1]
  return (
    <div class="app">
      <nav class="sidebar" aria-label="Sections">
        <div class="brand">cais</div>
        {sections.map(([path, title]) => (
          <a href={`#${path}`} class={current === path.slice(1) ? 'active' : ''} aria-current={current === path.slice(1) ? 'page' : undefined}>
            {title}
            {path === '/alerts' && liveAlerts.value.length > 0 && (
              <span class="badge" data-testid="alert-count">
                {liveAlerts.value.length}
              </span>
            )}
          </a>
        ))}
        <EngineSwitch />
      </nav>
      <main>
        {connectionLost.value && (
          <div class="banner" role="status">
            Connection to the dashboard lost; reconnecting…
          </div>
        )}
        <ErrorBox error={sessionError.value} />
        {session.value && <View />}
      </main>
    </div>
  )
}

render(<App />, document.getElementById('app')!)
