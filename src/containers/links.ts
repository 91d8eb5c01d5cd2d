import { invalid } from '../lib/errors.ts'
import type { ContainerRecord } from './record.ts'

/**
 * Legacy links (`--link NAME[:ALIAS]`), as Docker keeps them: `HostConfig.Links` holds `/child:/parent/alias`; at
 * the parent's start the child (which must run) is in its /etc/hosts under the alias, and on the default bridge
 * the parent's environment describes it (`ALIAS_PORT_80_TCP_ADDR`, `ALIAS_NAME`, `ALIAS_ENV_…`).
 */
export interface Link {
  /** The child's name, without the leading slash. */
  child: string
  alias: string
}

/** `name`, `name:alias`, or the stored `/name:/parent/alias`. */
export function parseLink(spec: string): Link {
  const [rawName = '', rawAlias] = spec.split(':')
  const child = rawName.replace(/^\//, '')
  const alias = rawAlias === undefined ? child : rawAlias.slice(rawAlias.lastIndexOf('/') + 1)
  if (child === '' || alias === '' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(alias)) throw invalid(`invalid link format: ${spec}`)
  return { child, alias }
}

/** How inspect and the record keep a link. */
export const linkEntry = (parentName: string, link: Link): string => `/${link.child}:/${parentName}/${link.alias}`

/** The environment a link on the default bridge gives the parent, as Docker's. */
export function linkEnvironment(parentName: string, alias: string, child: ContainerRecord, address: string): string[] {
  const prefix = alias.toUpperCase().replace(/-/g, '_')
  const env: string[] = []
  const ports = Object.keys(child.config.ExposedPorts ?? {})
    .map((p) => {
      const [port = '', proto = 'tcp'] = p.split('/')
      return { port: Number(port), proto }
    })
    .filter((p) => Number.isInteger(p.port))
    .sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto))
  if (ports[0]) env.push(`${prefix}_PORT=${ports[0].proto}://${address}:${ports[0].port}`)
  for (const { port, proto } of ports) {
    const key = `${prefix}_PORT_${port}_${proto.toUpperCase()}`
    env.push(`${key}=${proto}://${address}:${port}`, `${key}_ADDR=${address}`, `${key}_PORT=${port}`, `${key}_PROTO=${proto}`)
  }
  env.push(`${prefix}_NAME=/${parentName}/${alias}`)
  for (const e of child.config.Env) {
    const eq = e.indexOf('=')
    if (eq < 0) continue
    const name = e.slice(0, eq)
    // Set by every image and build: not the child's to tell.
    if (name === 'HOME' || name === 'PATH') continue
    env.push(`${prefix}_ENV_${name}=${e.slice(eq + 1)}`)
  }
  return env
}

/** The /etc/hosts line that names the child for the parent: its address, the alias, its hostname and its name. */
export function linkHostsLine(alias: string, child: ContainerRecord, address: string): string {
  const names = [...new Set([alias, child.config.Hostname, child.name.slice(1)])]
  return `${address}\t${names.join(' ')}`
}

/**
 * The names children are also known by through their parents' links (`/parent/alias`), by child name
 * (`/child`), for `ps`'s Names: one pass over the records for a whole listing.
 */
export function linkNames(all: readonly ContainerRecord[]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const parent of all) {
    for (const spec of (parent.hostConfig['Links'] as string[] | null | undefined) ?? []) {
      const link = parseLink(spec)
      const names = out.get(`/${link.child}`) ?? []
      names.push(`${parent.name}/${link.alias}`)
      out.set(`/${link.child}`, names)
    }
  }
  return out
}
