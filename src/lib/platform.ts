import { invalid, notFound } from './errors.ts'

export interface Platform {
  os: string
  architecture: string
  variant?: string
}

const nodeArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }

export function hostPlatform(): Platform {
  const architecture = nodeArch[process.arch] ?? process.arch
  return architecture === 'arm64' ? { os: 'linux', architecture, variant: 'v8' } : { os: 'linux', architecture }
}

/** Parses `os/arch[/variant]` as `--platform` takes it. */
export function parsePlatform(text: string): Platform {
  const parts = text.toLowerCase().split('/')
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw invalid(`"${text}": unknown operating system or architecture: invalid argument`)
  }
  const p: Platform = { os: parts[0]!, architecture: normaliseArch(parts[1]!) }
  if (parts[2]) p.variant = parts[2]
  else if (p.architecture === 'arm64') p.variant = 'v8'
  return p
}

const normaliseArch = (a: string): string => ({ x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386' })[a] ?? a

export const formatPlatform = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/')

/** Whether a manifest-list entry serves `want`; arm64's v8 variant may be left out. */
export function platformMatches(entry: Partial<Platform> | undefined, want: Platform): boolean {
  if (!entry || entry.os !== want.os || normaliseArch(entry.architecture ?? '') !== want.architecture) return false
  if (!want.variant) return true
  const variant = entry.variant ?? (entry.architecture === 'arm64' ? 'v8' : undefined)
  return variant === undefined || variant === want.variant
}

/** The `platform` query parameter of image inspect, history, save, push and rmi: an OCI platform as JSON. */
export function parsePlatformJson(text: string): Platform {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (err) {
    throw invalid(`failed to parse platform: ${(err as Error).message}`)
  }
  const p = v as Partial<Record<keyof Platform, unknown>> | null
  if (!p || typeof p !== 'object' || typeof p.os !== 'string' || typeof p.architecture !== 'string' || (p.variant !== undefined && typeof p.variant !== 'string')) {
    throw invalid('failed to parse platform: os and architecture are required')
  }
  return { os: p.os, architecture: normaliseArch(p.architecture), ...(p.variant ? { variant: p.variant } : {}) }
}

/**
 * Refuses an image whose platform is not the one asked for, as Docker's store does (a 404, so that clients pull
 * that platform; docker-py raises ImageNotFound on its words).
 */
export function requirePlatform(reference: string, actual: Platform, wanted: Platform): void {
  if (platformMatches(actual, wanted)) return
  throw notFound(`image with reference ${reference} was found but does not match the specified platform: wanted ${formatPlatform(wanted)}, actual: ${formatPlatform(actual)}`)
}
