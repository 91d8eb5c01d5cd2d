import { UsageError } from '../../flags.ts'

export type PortBindings = Record<string, Array<{ HostIp: string; HostPort: string }>>

const range = (text: string, what: string): [number, number] => {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text)
  const lo = m ? Number(m[1]) : NaN
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo
  if (!m || lo < 1 || hi > 65535 || hi < lo) throw new UsageError(`invalid ${what}: ${text}`)
  return [lo, hi]
}

/**
 * `-p` specs as the docker CLI reads them: `[ip:][hostPort:]containerPort[/proto]`, where either port may be a
 * range (`8000-8002:80-82`); an empty host port asks the daemon for an ephemeral one.
 */
export function parsePublish(specs: readonly string[]): { exposed: Record<string, object>; bindings: PortBindings } {
  const exposed: Record<string, object> = {}
  const bindings: PortBindings = {}
  for (const spec of specs) {
    const slash = spec.lastIndexOf('/')
    const proto = slash >= 0 ? spec.slice(slash + 1) : 'tcp'
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new UsageError(`invalid proto: ${proto}`)
    const parts = (slash >= 0 ? spec.slice(0, slash) : spec).split(':')
    if (parts.length > 3) throw new UsageError(`invalid port format for --publish: ${spec}`)
    const containerText = parts.at(-1)!
    const hostText = parts.length >= 2 ? parts.at(-2)! : ''
    const ip = parts.length === 3 ? parts[0]! : ''
    if (ip && !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw new UsageError(`invalid IP address: ${ip}`)
    const [cLo, cHi] = range(containerText, 'containerPort')
    const [hLo, hHi] = hostText === '' ? [0, 0] : range(hostText, 'hostPort')
    // A host range for one container port is where the daemon picks a free port; otherwise the ranges pair up.
    if (hostText !== '' && hHi - hLo !== cHi - cLo && cLo !== cHi) throw new UsageError(`invalid ranges specified for container and host Ports: ${containerText} and ${hostText}`)
    for (let p = cLo; p <= cHi; p++) {
      const key = `${p}/${proto}`
      exposed[key] = {}
      const hostPort = hostText === '' ? '' : cLo === cHi && hLo !== hHi ? `${hLo}-${hHi}` : String(hLo + (p - cLo))
      ;(bindings[key] ??= []).push({ HostIp: ip, HostPort: hostPort })
    }
  }
  return { exposed, bindings }
}

/** `--expose 80`, `--expose 7000-7002/udp`. */
export function parseExpose(specs: readonly string[]): Record<string, object> {
  const out: Record<string, object> = {}
  for (const spec of specs) {
    const [ports, proto = 'tcp'] = spec.split('/')
    const [lo, hi] = range(ports!, 'range format for --expose')
    for (let p = lo; p <= hi; p++) out[`${p}/${proto}`] = {}
  }
  return out
}
