import { useEffect, useRef, useState } from 'preact/hooks'
import { api, openChannel } from './api.ts'

/** An engine event as `/events` sends it. */
export interface EngineEvent {
  Type: string
  Action: string
  Actor: { ID: string; Attributes: Record<string, string> }
  time: number
  timeNano: number
}

/**
 * Data from a REST route, fetched again when the engine reports a change of the given event types (no polling).
 * Changes close together are fetched once.
 */
export function useLive<T>(path: string, types: string[]): { data: T | undefined; error: unknown; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const seq = useRef(0)
  const reload = (): void => {
    const mine = ++seq.current
    api<T>('GET', path).then(
      (d) => {
        if (mine !== seq.current) return
        setData(d)
        setError(undefined)
      },
      (err: unknown) => mine === seq.current && setError(err),
    )
  }
  useEffect(() => {
    reload()
    let timer: ReturnType<typeof setTimeout> | undefined
    const close = openChannel('/ws/events', () => ({}), {
      onOpen: reload,
      onMessage(raw) {
        if (typeof raw !== 'string') return
        const e = JSON.parse(raw) as EngineEvent
        if (!types.includes(e.Type)) return
        if (timer) clearTimeout(timer)
        timer = setTimeout(reload, 80)
      },
    })
    return () => {
      close()
      if (timer) clearTimeout(timer)
    }
  }, [path])
  return { data, error, reload }
}
