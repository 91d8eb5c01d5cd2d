import { useState } from 'preact/hooks'
import { api, shortId } from '../api.ts'
import { ErrorBox } from '../components/error-box.tsx'
import { useLive } from '../live.ts'

interface Network {
  Id: string
  Name: string
  Driver: string
  Scope: string
  Internal?: boolean
  IPAM: { Config: Array<{ Subnet?: string; Gateway?: string }> | null }
}

interface ContainerRow {
  Id: string
  Names: string[]
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> }
}

/** The engine's own networks, which cannot be removed or joined from here. */
const predefined = new Set(['bridge', 'host', 'none'])

/** Networks: create (driver, subnet, internal), remove; which containers are on each, connect and disconnect them. */
export function NetworksView(): preact.JSX.Element {
  const { data, error } = useLive<Network[]>('/api/networks', ['network'])
  const containers = useLive<ContainerRow[]>('/api/containers', ['container', 'network'])
  const [actionError, setActionError] = useState<unknown>(undefined)
  const [form, setForm] = useState({ name: '', driver: 'bridge', subnet: '', internal: false })
  const [picked, setPicked] = useState<Record<string, string>>({})
  // Engines report no event when a stopped container joins or leaves a network: the lists are read again after each.
  const act = (p: Promise<unknown>): void => {
    setActionError(undefined)
    p.then(() => containers.reload(), (err: unknown) => setActionError(err))
  }
  const nameOf = (c: ContainerRow): string => (c.Names[0] ?? c.Id).replace(/^\//, '')
  const on = (network: string): Array<{ c: ContainerRow; ip: string }> =>
    (containers.data ?? []).flatMap((c) => {
      const n = c.NetworkSettings?.Networks?.[network]
      return n ? [{ c, ip: n.IPAddress ?? '' }] : []
    })
  return (
    <section>
      <h1>Networks</h1>
      <form
        class="toolbar"
        data-testid="network-create"
        onSubmit={(e) => {
          e.preventDefault()
          if (!form.name.trim()) return
          act(api('POST', '/api/networks', { name: form.name.trim(), driver: form.driver, subnet: form.subnet.trim() || undefined, internal: form.internal }).then(() => setForm({ ...form, name: '', subnet: '' })))
        }}
      >
        <input aria-label="Network name" placeholder="name" value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
        <select aria-label="Driver" value={form.driver} onChange={(e) => setForm({ ...form, driver: e.currentTarget.value })}>
          <option value="bridge">bridge</option>
          <option value="overlay">overlay</option>
        </select>
        <input aria-label="Subnet" placeholder="subnet (optional), 10.1.2.0/24" value={form.subnet} onInput={(e) => setForm({ ...form, subnet: e.currentTarget.value })} />
        <label>
          <input type="checkbox" checked={form.internal} onChange={(e) => setForm({ ...form, internal: e.currentTarget.checked })} /> internal
        </label>
        <button type="submit">Create</button>
      </form>
      <ErrorBox error={error ?? containers.error ?? actionError} />
      <table class="grid" data-testid="networks">
        <thead>
          <tr>
            <th>Name</th>
            <th>ID</th>
            <th>Driver</th>
            <th>Subnet</th>
            <th>Containers</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(data ?? []).map((n) => {
            const members = on(n.Name)
            const candidates = (containers.data ?? []).filter((c) => !members.some((m) => m.c.Id === c.Id))
            const own = !predefined.has(n.Name)
            return (
              <tr key={n.Id} data-name={n.Name}>
                <td>{n.Name}</td>
                <td class="mono">{shortId(n.Id)}</td>
                <td>
                  {n.Driver}
                  {n.Internal ? ' (internal)' : ''}
                </td>
                <td>{(n.IPAM.Config ?? []).map((c) => c.Subnet).join(', ')}</td>
                <td>
                  {members.map(({ c, ip }) => (
                    <span class="chip" key={c.Id} data-member={nameOf(c)}>
                      {nameOf(c)}
                      {ip ? ` (${ip})` : ''}
                      {own && (
                        <button type="button" aria-label={`Disconnect ${nameOf(c)} from ${n.Name}`} onClick={() => act(api('POST', `/api/networks/${encodeURIComponent(n.Id)}/disconnect`, { container: c.Id }))}>
                          ×
                        </button>
                      )}
                    </span>
                  ))}
                </td>
                <td class="actions">
                  {own && (
                    <>
                      <select aria-label={`Container to connect to ${n.Name}`} value={picked[n.Id] ?? ''} onChange={(e) => setPicked({ ...picked, [n.Id]: e.currentTarget.value })}>
                        <option value="">container…</option>
                        {candidates.map((c) => (
                          <option key={c.Id} value={c.Id}>
                            {nameOf(c)}
                          </option>
                        ))}
                      </select>
                      <button type="button" data-action="connect" disabled={!picked[n.Id]} onClick={() => act(api('POST', `/api/networks/${encodeURIComponent(n.Id)}/connect`, { container: picked[n.Id] }).then(() => setPicked({ ...picked, [n.Id]: '' })))}>
                        Connect
                      </button>
                    </>
                  )}
                  <button type="button" data-action="remove" onClick={() => act(api('DELETE', `/api/networks/${encodeURIComponent(n.Id)}`))}>
                    Remove
                  </button>
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </section>
  )
}
