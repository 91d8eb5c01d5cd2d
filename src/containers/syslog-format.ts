import { invalid } from '../lib/errors.ts'

/** Where the syslog driver sends: a stream (tcp, unix), datagrams (udp), or the local syslog's datagram socket. */
export type SyslogAddress =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'udp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'unixgram'; path: string }

export type SyslogFormat = '' | 'rfc3164' | 'rfc5424' | 'rfc5424micro'

const facilities = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', '', '', '', '', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7']

/** `syslog-address`: `tcp://HOST:PORT`, `udp://HOST:PORT` (port 514 by default), `unix://PATH`, `unixgram://PATH`; the local /dev/log when unset. */
export function parseSyslogAddress(address: string | undefined): SyslogAddress {
  if (!address) return { kind: 'unixgram', path: '/dev/log' }
  const m = /^([a-z+]+):\/\/(.*)$/.exec(address)
  if (!m) throw invalid(`syslog-address should be in form proto://address, got ${JSON.stringify(address)}`)
  const [, scheme, rest] = m as unknown as [string, string, string]
  if (scheme === 'unix' || scheme === 'unixgram') {
    if (!rest.startsWith('/')) throw invalid(`syslog-address ${address}: the socket path must be absolute`)
    return { kind: scheme, path: rest }
  }
  if (scheme === 'tcp+tls') throw invalid('syslog over TLS (tcp+tls) is not supported by cais yet: use tcp://, udp:// or a unix socket')
  if (scheme !== 'tcp' && scheme !== 'udp') throw invalid(`unsupported scheme: '${scheme}'`)
  const hp = /^(\[[0-9a-fA-F:]+\]|[^:/[\]]+)(?::(\d{1,5}))?$/.exec(rest)
  if (!hp) throw invalid(`syslog-address ${address}: expected ${scheme}://HOST[:PORT]`)
  const port = hp[2] ? Number(hp[2]) : 514
  if (port < 1 || port > 65535) throw invalid(`syslog-address ${address}: port out of range`)
  return { kind: scheme, host: hp[1]!.replace(/^\[|\]$/g, ''), port }
}

/** `syslog-facility`: a name (daemon, local0…) or its number; `daemon` when unset. */
export function parseSyslogFacility(facility: string | undefined): number {
  if (!facility) return 3
  const byName = facilities.indexOf(facility)
  if (byName >= 0 && facility !== '') return byName
  if (/^\d+$/.test(facility) && Number(facility) < 24) return Number(facility)
  throw invalid('invalid syslog facility')
}

export function parseSyslogFormat(format: string | undefined): SyslogFormat {
  if (!format) return ''
  if (format === 'rfc3164' || format === 'rfc5424' || format === 'rfc5424micro') return format
  throw invalid(`invalid syslog format: ${format}`)
}

/** The syslog driver's options, checked at create (and for the daemon's default) with Docker's words. */
export function checkSyslogOptions(o: Record<string, string>): void {
  parseSyslogAddress(o['syslog-address'])
  parseSyslogFacility(o['syslog-facility'])
  parseSyslogFormat(o['syslog-format'])
  if (Object.keys(o).some((k) => k.startsWith('syslog-tls-'))) throw invalid('syslog over TLS (syslog-tls-* options) is not supported by cais yet')
}

export interface SyslogLine {
  stream: 'stdout' | 'stderr'
  time: Date
  text: string
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/** `Jan _2 15:04:05` in local time, as BSD syslog stamps. */
function stamp3164(t: Date): string {
  return `${months[t.getMonth()]} ${String(t.getDate()).padStart(2, ' ')} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`
}

/** RFC 3339 in local time with its offset, to the second or the microsecond. */
function stamp3339(t: Date, micro: boolean): string {
  const off = -t.getTimezoneOffset()
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`
  const frac = micro ? `.${pad(t.getMilliseconds(), 3)}000` : ''
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}${frac}${zone}`
}

export interface SyslogLayout {
  format: SyslogFormat
  facility: number
  tag: string
  hostname: string
  pid: number
}

/** Facility and severity in one number: stdout lines are `info`, stderr lines `err`, as Docker's. */
export function syslogPriority(line: Pick<SyslogLine, 'stream'>, o: Pick<SyslogLayout, 'facility'>): number {
  return o.facility * 8 + (line.stream === 'stderr' ? 3 : 6)
}

/**
 * One line as a syslog message, in the layouts Docker's driver writes: the local one (`<PRI>stamp tag[pid]: text`)
 * by default, RFC 3164 with the host name, or RFC 5424 (`<PRI>1 time host tag pid tag - text`).
 */
export function formatSyslog(line: SyslogLine, o: SyslogLayout): string {
  const pri = `<${syslogPriority(line, o)}>`
  const text = line.text.endsWith('\n') ? line.text.slice(0, -1) : line.text
  switch (o.format) {
    case '':
      return `${pri}${stamp3164(line.time)} ${o.tag}[${o.pid}]: ${text}`
    case 'rfc3164':
      return `${pri}${stamp3164(line.time)} ${o.hostname} ${o.tag}[${o.pid}]: ${text}`
    case 'rfc5424':
    case 'rfc5424micro':
      return `${pri}1 ${stamp3339(line.time, o.format === 'rfc5424micro')} ${o.hostname} ${o.tag} ${o.pid} ${o.tag} - ${text}`
  }
}

/**
 * A message as it goes on a stream: RFC 5425's octet counting for the RFC 5424 formats, as Docker's driver frames
 * them; otherwise ended by a newline. Datagrams carry the message alone.
 */
export function frameSyslog(message: string, format: SyslogFormat, stream: boolean): Buffer {
  if (!stream) return Buffer.from(message)
  if (format === 'rfc5424' || format === 'rfc5424micro') {
    const body = Buffer.from(message)
    return Buffer.concat([Buffer.from(`${body.length} `), body])
  }
  return Buffer.from(`${message}\n`)
}

/** `--log-opt tag`: Docker's template fields for a container, `{{.ID}}` (the short ID) when unset. */
export function expandLogTag(template: string | undefined, c: { id: string; name: string; image: string; imageId: string; daemonName: string }): string {
  const fields: Record<string, string> = {
    ID: c.id.slice(0, 12),
    FullID: c.id,
    Name: c.name.replace(/^\//, ''),
    ImageName: c.image,
    ImageID: c.imageId.replace(/^sha256:/, '').slice(0, 12),
    ImageFullID: c.imageId,
    DaemonName: c.daemonName,
  }
  return (template || '{{.ID}}').replace(/\{\{\s*\.(\w+)\s*\}\}/g, (all, name: string) => fields[name] ?? all)
}
