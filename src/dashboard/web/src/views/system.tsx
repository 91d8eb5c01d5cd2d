import { useEffect, useState } from 'preact/hooks'
import { api, formatBytes } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'

interface Engine {
  name: string
  version: { Version: string; ApiVersion: string; Os: string; Arch: string; KernelVersion: string }
  info: { Name: string; Containers: number; ContainersRunning: number; Images: number; Driver: string; CgroupVersion?: string; NCPU: number; MemTotal: number }
}

interface DiskUsage {
  LayersSize: number
  Images: Array<{ Size: number; Containers: number }>
  Containers: Array<{ SizeRw?: number; State: string }>
  Volumes: Array<{ UsageData?: { Size: number; RefCount: number } }>
}

export function SystemView(): preact.JSX.Element {
  const [engine, setEngine] = useState<Engine | undefined>(undefined)
  const [df, setDf] = useState<DiskUsage | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  useEffect(() => {
    api<Engine>('GET', '/api/engine').then(setEngine, setError)
    api<DiskUsage>('GET', '/api/system/df').then(setDf, setError)
  }, [])
  const unusedImages = (df?.Images ?? []).filter((i) => i.Containers === 0)
  return (
    <section>
      <h1>System</h1>
      <ErrorBox error={error} />
      {engine && (
        <dl class="figures" data-testid="engine-info">
          <div>
            <dt>Engine</dt>
            <dd>{engine.name}</dd>
          </div>
          <div>
            <dt>Version</dt>
            <dd>
              {engine.version.Version} (API {engine.version.ApiVersion})
            </dd>
          </div>
          <div>
            <dt>Host</dt>
            <dd>
              {engine.info.Name}, {engine.version.Os}/{engine.version.Arch}, kernel {engine.version.KernelVersion}
            </dd>
          </div>
          <div>
            <dt>Containers</dt>
            <dd>
              {engine.info.Containers} ({engine.info.ContainersRunning} running)
            </dd>
          </div>
          <div>
            <dt>Images</dt>
            <dd>{engine.info.Images}</dd>
          </div>
          <div>
            <dt>Storage</dt>
            <dd>{engine.info.Driver}</dd>
          </div>
          <div>
            <dt>CPUs / memory</dt>
            <dd>
              {engine.info.NCPU} / {formatBytes(engine.info.MemTotal)}
            </dd>
          </div>
        </dl>
      )}
      {df && (
        <>
          <h2>Disk usage</h2>
          <table class="grid" data-testid="disk-usage">
            <thead>
              <tr>
                <th>Type</th>
                <th>Total</th>
                <th>Size</th>
                <th>Reclaimable</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <td>Images</td>
                <td>{df.Images.length}</td>
                <td>{formatBytes(df.LayersSize)}</td>
                <td>{formatBytes(unusedImages.reduce((n, i) => n + i.Size, 0))}</td>
              </tr>
              <tr>
                <td>Containers</td>
                <td>{df.Containers.length}</td>
                <td>{formatBytes(df.Containers.reduce((n, c) => n + (c.SizeRw ?? 0), 0))}</td>
                <td>{formatBytes(df.Containers.filter((c) => c.State !== 'running').reduce((n, c) => n + (c.SizeRw ?? 0), 0))}</td>
              </tr>
              <tr>
                <td>Volumes</td>
                <td>{df.Volumes.length}</td>
                <td>{formatBytes(df.Volumes.reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0))}</td>
                <td>{formatBytes(df.Volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0).reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0))}</td>
              </tr>
            </tbody>
          </table>
        </>
      )}
    </section>
  )
}
