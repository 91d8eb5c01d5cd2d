import { useEffect, useRef, useState } from 'preact/hooks'
import uPlot from 'uplot'
import { formatBytes, openChannel } from '../api.ts'

interface Figures {
  time: number
  cpuPercent: number
  memoryUsage: number
  memoryLimit: number
  memoryPercent: number
  networkRx: number
  networkTx: number
  blockRead: number
  blockWrite: number
  pids: number
}

const keep = 300

/** Live graphs of a container's CPU, memory, network, block I/O and PIDs, a sample a second, the last five minutes. */
export function StatsPanel(props: { id: string }): preact.JSX.Element {
  const [latest, setLatest] = useState<Figures | undefined>(undefined)
  const charts = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const samples: Figures[] = []
    const width = Math.max(320, Math.min(560, (charts.current?.clientWidth ?? 600) / 2 - 20))
    const make = (title: string, series: string[], format: (v: number) => string): uPlot => {
      const el = document.createElement('div')
      el.className = 'chart'
      charts.current!.append(el)
      return new uPlot(
        {
          title,
          width,
          height: 160,
          series: [{}, ...series.map((label, i) => ({ label, stroke: ['#2f6fdd', '#d9822b', '#3a9d5d'][i], width: 1.5, value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)) }))],
          axes: [{}, { values: (_u: uPlot, vals: number[]) => vals.map(format), size: 70 }],
          scales: { x: { time: true } },
        },
        [[], ...series.map(() => [])],
        el,
      )
    }
    const cpu = make('CPU', ['CPU %'], (v) => `${v.toFixed(1)}%`)
    const mem = make('Memory', ['usage'], formatBytes)
    const net = make('Network (per second)', ['received', 'sent'], formatBytes)
    const blk = make('Block I/O (per second)', ['read', 'written'], formatBytes)
    const pids = make('PIDs', ['PIDs'], (v) => String(Math.round(v)))
    const rate = (key: 'networkRx' | 'networkTx' | 'blockRead' | 'blockWrite'): number[] =>
      samples.map((s, i) => (i === 0 ? 0 : Math.max(0, (s[key] - samples[i - 1]![key]) / Math.max(0.001, (s.time - samples[i - 1]!.time) / 1000))))
    const close = openChannel('/ws/stats', () => ({ id: props.id }), {
      onMessage(raw) {
        if (typeof raw !== 'string') return
        const s = JSON.parse(raw) as Figures & { error?: string }
        if (s.error) return
        samples.push(s)
        if (samples.length > keep) samples.shift()
        const xs = samples.map((x) => x.time / 1000)
        cpu.setData([xs, samples.map((x) => x.cpuPercent)])
        mem.setData([xs, samples.map((x) => x.memoryUsage)])
        net.setData([xs, rate('networkRx'), rate('networkTx')])
        blk.setData([xs, rate('blockRead'), rate('blockWrite')])
        pids.setData([xs, samples.map((x) => x.pids)])
        setLatest(s)
      },
    })
    return () => {
      close()
      for (const c of [cpu, mem, net, blk, pids]) c.destroy()
      charts.current?.replaceChildren()
    }
  }, [props.id])
  return (
    <div>
      <dl class="figures">
        <div>
          <dt>CPU</dt>
          <dd data-testid="cpu">{latest ? `${latest.cpuPercent.toFixed(1)}%` : '—'}</dd>
        </div>
        <div>
          <dt>Memory</dt>
          <dd data-testid="memory">{latest ? `${formatBytes(latest.memoryUsage)}${latest.memoryLimit ? ` / ${formatBytes(latest.memoryLimit)}` : ''}` : '—'}</dd>
        </div>
        <div>
          <dt>Network</dt>
          <dd>{latest ? `${formatBytes(latest.networkRx)} in / ${formatBytes(latest.networkTx)} out` : '—'}</dd>
        </div>
        <div>
          <dt>Block I/O</dt>
          <dd>{latest ? `${formatBytes(latest.blockRead)} read / ${formatBytes(latest.blockWrite)} written` : '—'}</dd>
        </div>
        <div>
          <dt>PIDs</dt>
          <dd data-testid="pids">{latest ? latest.pids : '—'}</dd>
        </div>
      </dl>
      <div class="charts" ref={charts} />
    </div>
  )
}
