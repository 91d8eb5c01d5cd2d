import { useEffect, useState } from 'preact/hooks'
import { openChannel } from '../api.ts'
import { VirtualList } from '../components/virtual-list.tsx'
import type { EngineEvent } from '../live.ts'

/** The engine's events as they happen, filtered by type or by text. */
export function EventsView(): preact.JSX.Element {
  const [events, setEvents] = useState<EngineEvent[]>([])
  const [type, setType] = useState('')
  const [text, setText] = useState('')
  useEffect(() => {
    const seen: EngineEvent[] = []
    return openChannel('/ws/events', () => ({}), {
      onMessage(raw) {
        if (typeof raw !== 'string') return
        seen.push(JSON.parse(raw) as EngineEvent)
        if (seen.length > 10_000) seen.shift()
        setEvents(seen.slice())
      },
    })
  }, [])
  const shown = events.filter((e) => (!type || e.Type === type) && (!text || JSON.stringify(e).includes(text)))
  return (
    <section>
      <h1>Events</h1>
      <div class="toolbar">
        <select aria-label="Type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
          <option value="">Any type</option>
          {['container', 'image', 'network', 'volume', 'daemon'].map((t) => (
            <option value={t}>{t}</option>
          ))}
        </select>
        <input type="search" aria-label="Filter events" placeholder="Filter" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </div>
      <VirtualList
        label="Events"
        testId="events"
        items={shown}
        rowHeight={20}
        height="calc(100vh - 200px)"
        follow
        row={(e) => (
          <div class="mono">
            {new Date(e.timeNano / 1e6).toISOString()} {e.Type} {e.Action} {e.Actor.Attributes['name'] ?? e.Actor.ID.slice(0, 12)}
          </div>
        )}
      />
    </section>
  )
}
