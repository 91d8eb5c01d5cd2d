import { useEffect, useRef, useState } from 'preact/hooks'
import uPlot from 'uplot'
import { api, formatBytes } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'

interface HistoryPayload {
  resolutionMs: number
  ticks: Array<{ t: number; samples: Array<{ id: string; name: string; cpuPercent: number; memoryUsage: number }>; stacks: Record<string, { cpuPercent: number; memoryUsage: number; containers: number }> }>
}

const ranges = [
  ['1 h', 3600_000],
  ['6 h', 6 * 3600_000],
  ['24 h', 24 * 3600_000],
  ['7 days', 7 * 24 * 3600_000],
  ['30 days', 30 * 24 * 3600_000],
] as const

const palette = ['#2f6fdd', '#d9822b', '#3a9d5d', '#b8428c', '#7a5cc7', '#c9a227', '#2aa3a3', '#8c564b']

/**
 * What the monitor recorded while the dashboard ran (open page or not): CPU and memory per stack (compose project;
 * `-` for containers outside one) over a range, and each container's peak and average.
 */
export function HistoryView(): preact.JSX.Element {
  const [range, setRange] = useState<number>(3600_000)
  const [data, setData] = useState<HistoryPayload | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const charts = useRef<HTMLDivElement>(null)
  useEffect(() => {
    api<HistoryPayload>('GET', `/api/history?range=${range}`).then(setData, setError)
  }, [range])
  useEffect(() => {
    if (!data || !charts.current) return
    const stacks = [...new Set(data.ticks.flatMap((t) => Object.keys(t.stacks)))].sort()
    const xs = data.ticks.map((t) => t.t / 1000)
    const width = Math.max(360, charts.current.clientWidth / 2 - 24)
    const plot = (title: string, key: 'cpuPercent' | 'memoryUsage', format: (v: number) => string): uPlot => {
      const el = document.createElement('div')
      el.className = 'chart'
      charts.current!.append(el)
      return new uPlot(
        {
          title,
          width,
          height: 220,
          series: [{}, ...stacks.map((s, i) => ({ label: s, stroke: palette[i % palette.length], width: 1.5, value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)) }))],
          axes: [{}, { values: (_u: uPlot, vals: number[]) => vals.map(format), size: 70 }],
        },
        [xs, ...stacks.map((s) => data.ticks.map((t) => t.stacks[s]?.[key] ?? null))] as uPlot.AlignedData,
        el,
      )
    }
    const made = [plot('CPU by stack', 'cpuPercent', (v) => `${v.toFixed(1)}%`), plot('Memory by stack', 'memoryUsage', formatBytes)]
    return () => {
      for (const c of made) c.destroy()
      charts.current?.replaceChildren()
    }
  }, [data])
  const perContainer = new Map<string, { name: string; n: number; cpuSum: number; cpuPeak: number; memPeak: number }>()
  for (const t of data?.ticks ?? []) {
    for (const s of t.samples) {
      const c = perContainer.get(s.id) ?? { name: s.name, n: 0, cpuSum: 0, cpuPeak: 0, memPeak: 0 }
      c.n++
      c.cpuSum += s.cpuPercent
      c.cpuPeak = Math.max(c.cpuPeak, s.cpuPercent)
      c.memPeak = Math.max(c.memPeak, s.memoryUsage)
      perContainer.set(s.id, c)
    }
  }
  return (
    <section>
      <h1>History</h1>
      <div class="toolbar" role="group" aria-label="Range">
        {ranges.map(([label, ms]) => (
          <button type="button" aria-pressed={range === ms} class={range === ms ? 'pressed' : ''} onClick={() => setRange(ms)}>
            {label}
          </button>
        ))}
        <span class="muted">{data ? `${data.ticks.length} samples, one per ${data.resolutionMs / 1000} s` : ''}</span>
      </div>
      <ErrorBox error={error} />
      <div class="charts" ref={charts} />
      <h2>Containers</h2>
      <table class="grid" data-testid="history-containers">
        <thead>
          <tr>
            <th>Container</th>
            <th>Average CPU</th>
            <th>Peak CPU</th>
            <th>Peak memory</th>
          </tr>
        </thead>
        <tbody>
          {[...perContainer.entries()].map(([id, c]) => (
            <tr data-name={c.name}>
              <td>
                <a href={`#/containers/${id}`}>{c.name}</a>
              </td>
              <td>{(c.cpuSum / c.n).toFixed(1)}%</td>
              <td data-testid="peak-cpu">{c.cpuPeak.toFixed(1)}%</td>
              <td>{formatBytes(c.memPeak)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}
