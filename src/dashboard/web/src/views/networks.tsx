import { ErrorBox } from '../components/error-box.tsx'
import { shortId } from '../api.ts'
import { useLive } from '../live.ts'

interface Network {
  Id: string
  Name: string
  Driver: string
  Scope: string
  IPAM: { Config: Array<{ Subnet?: string; Gateway?: string }> | null }
  Containers?: Record<string, { Name: string; IPv4Address: string }>
}

export function NetworksView(): preact.JSX.Element {
  const { data, error } = useLive<Network[]>('/api/networks', ['network'])
  return (
    <section>
      <h1>Networks</h1>
      <ErrorBox error={error} />
      <table class="grid" data-testid="networks">
        <thead>
          <tr>
            <th>Name</th>
            <th>ID</th>
            <th>Driver</th>
            <th>Subnet</th>
            <th>Containers</th>
          </tr>
        </thead>
        <tbody>
          {(data ?? []).map((n) => (
            <tr key={n.Id} data-name={n.Name}>
              <td>{n.Name}</td>
              <td class="mono">{shortId(n.Id)}</td>
              <td>{n.Driver}</td>
              <td>{(n.IPAM.Config ?? []).map((c) => c.Subnet).join(', ')}</td>
              <td>{Object.values(n.Containers ?? {}).map((c) => `${c.Name} (${c.IPv4Address})`).join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}
