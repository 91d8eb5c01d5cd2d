import type { ComponentChildren } from 'preact'
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'

/**
 * A list that renders only the rows in view (rows of one height), so a million log lines or files cost the
 * DOM of a screenful. With `follow`, it stays at the bottom as rows arrive until the user scrolls up.
 */
export function VirtualList<T>(props: {
  items: T[]
  rowHeight: number
  height: number | string
  row: (item: T, index: number) => ComponentChildren
  follow?: boolean
  label: string
  testId?: string
}): preact.JSX.Element {
  const box = useRef<HTMLDivElement>(null)
  const [top, setTop] = useState(0)
  const [view, setView] = useState(600)
  const [pinned, setPinned] = useState(true)
  useEffect(() => {
    const el = box.current
    if (!el) return
    const observer = new ResizeObserver(() => setView(el.clientHeight))
    observer.observe(el)
    return () => observer.disconnect()
  }, [])
  useLayoutEffect(() => {
    const el = box.current
    if (el && props.follow && pinned) el.scrollTop = el.scrollHeight
  }, [props.items.length, props.follow, pinned])
  const first = Math.max(0, Math.floor(top / props.rowHeight) - 10)
  const last = Math.min(props.items.length, Math.ceil((top + view) / props.rowHeight) + 10)
  const rows: ComponentChildren[] = []
  for (let i = first; i < last; i++) {
    rows.push(
      <div class="vrow" style={{ top: `${i * props.rowHeight}px`, height: `${props.rowHeight}px` }} key={i}>
        {props.row(props.items[i]!, i)}
      </div>,
    )
  }
  return (
    <div
      class="vlist"
      ref={box}
      role="list"
      aria-label={props.label}
      data-testid={props.testId}
      tabIndex={0}
      style={{ height: props.height }}
      onScroll={(e) => {
        const el = e.currentTarget
        setTop(el.scrollTop)
        setPinned(el.scrollTop + el.clientHeight >= el.scrollHeight - props.rowHeight)
      }}
    >
      <div style={{ height: `${props.items.length * props.rowHeight}px`, position: 'relative' }}>{rows}</div>
    </div>
  )
}
