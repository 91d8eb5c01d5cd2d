import { useState } from 'preact/hooks'

/** A JSON value as a tree: objects and arrays fold, the first two levels open. */
export function JsonTree(props: { value: unknown; name?: string; depth?: number }): preact.JSX.Element {
  const depth = props.depth ?? 0
  const [open, setOpen] = useState(depth < 2)
  const { value, name } = props
  const label = name !== undefined ? <span class="json-key">{name}: </span> : null
  if (value === null || typeof value !== 'object') {
    const kind = value === null ? 'null' : typeof value
    return (
      <div class="json-leaf">
        {label}
        <span class={`json-${kind}`}>{JSON.stringify(value)}</span>
      </div>
    )
  }
  const entries: Array<readonly [string, unknown]> = Array.isArray(value) ? (value as unknown[]).map((v, i) => [String(i), v] as const) : Object.entries(value)
  const brackets = Array.isArray(value) ? ['[', ']'] : ['{', '}']
  return (
    <div class="json-node">
      <button type="button" class="json-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'}
      </button>
      {label}
      {brackets[0]}
      {!open && <span class="json-summary">{entries.length} {Array.isArray(value) ? 'items' : 'keys'}</span>}
      {!open && brackets[1]}
      {open && (
        <div class="json-children">
          {entries.map(([k, v]) => (
            <JsonTree key={k} name={k} value={v} depth={depth + 1} />
          ))}
        </div>
      )}
      {open && brackets[1]}
    </div>
  )
}
