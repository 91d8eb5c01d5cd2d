/** RFC3339 with nanoseconds, as Go prints time.RFC3339Nano for UTC (trailing zeros trimmed). */
export function rfc3339Nano(ms: number, nanosExtra = 0): string {
  const iso = new Date(ms).toISOString() // 2024-01-02T03:04:05.678Z
  const nanos = String((ms % 1000) * 1_000_000 + nanosExtra).padStart(9, '0').replace(/0+$/, '')
  return iso.slice(0, 19) + (nanos ? '.' + nanos : '') + 'Z'
}

/** Parses a `since`/`until` value: unix seconds with optional fraction, an RFC3339 date, or a Go duration before now. */
export function parseTimestamp(value: string, now = Date.now()): number | undefined {
  if (value === '') return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000
  const d = parseGoDuration(value)
  if (d !== undefined) return now - d
  const t = Date.parse(value)
  return Number.isNaN(t) ? undefined : t
}

/** A Go duration such as `1h30m`, `10s`, `250ms`, in milliseconds. */
export function parseGoDuration(value: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy
  let total = 0
  let matched = 0
  for (const m of value.matchAll(re)) {
    total += Number(m[1]) * units[m[2]!]!
    matched += m[0].length
  }
  return matched === value.length && matched > 0 ? total : undefined
}

/** Docker's human duration: "Less than a second", "5 minutes", "About an hour", "3 days" (go-units HumanDuration). */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 1) return 'Less than a second'
  if (s === 1) return '1 second'
  if (s < 60) return `${s} seconds`
  const m = Math.floor(s / 60)
  if (m === 1) return 'About a minute'
  if (m < 60) return `${m} minutes`
  const h = Math.round(m / 60)
  if (h === 1) return 'About an hour'
  if (h < 48) return `${h} hours`
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`
  return `${Math.floor(h / 24 / 365)} years`
}
