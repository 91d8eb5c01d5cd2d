import { readFile, writeFile } from 'node:fs/promises'

/** `--dns`, `--dns-search`, `--dns-option`; an empty list keeps the host's entries of that kind. */
export interface DnsSettings {
  servers: readonly string[]
  search: readonly string[]
  options: readonly string[]
}

/** Writes the container's /etc/hostname, /etc/hosts and /etc/resolv.conf as Docker does for `--network none`. */
export async function writeEtcFiles(
  paths: { hostname: string; hosts: string; resolvConf: string },
  hostname: string,
  extraHosts: readonly string[],
  dns: DnsSettings = { servers: [], search: [], options: [] },
): Promise<void> {
  await writeFile(paths.hostname, `${hostname}\n`)
  const hosts = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::\tip6-localnet',
    'ff00::\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    ...extraHosts.map((h) => {
      const i = h.indexOf(':')
      return `${h.slice(i + 1)}\t${h.slice(0, i)}`
    }),
  ]
  await writeFile(paths.hosts, hosts.join('\n') + '\n')
  await writeResolvConf(paths.resolvConf, dns)
}

/** The container's resolv.conf: the host's, with the container's DNS settings (or its network's DNS) over it. */
export async function writeResolvConf(path: string, dns: DnsSettings): Promise<void> {
  await writeFile(path, resolvConfWith(await hostResolvConf(), dns))
}

/** `--dns`, `--dns-search` and `--dns-option` replace the host's entries of their kind, as in Docker. */
function resolvConfWith(host: string, dns: DnsSettings): string {
  const lines = host.split('\n').filter((l) => l.trim() !== '')
  const hostLines = (kind: RegExp): string[] => lines.filter((l) => kind.test(l))
  return (
    [
      ...(dns.servers.length > 0 ? dns.servers.map((s) => `nameserver ${s}`) : hostLines(/^\s*nameserver\s/)),
      ...(dns.search.length > 0 ? [`search ${dns.search.join(' ')}`] : hostLines(/^\s*(search|domain)\s/)),
      ...(dns.options.length > 0 ? [`options ${dns.options.join(' ')}`] : hostLines(/^\s*options\s/)),
    ].join('\n') + '\n'
  )
}

/** The host's resolv.conf without loopback resolvers, which a container cannot reach. */
async function hostResolvConf(): Promise<string> {
  const text = await readFile('/etc/resolv.conf', 'utf8').catch(() => '')
  const lines = text.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l))
  return lines.join('\n').trim() + '\n'
}
