import { invalid } from '../lib/errors.ts'

/**
 * An image reference, normalised as Docker does: `busybox` is `docker.io/library/busybox:latest`.
 * `domain/path` is the repository; a reference carries a tag, a digest, or both.
 */
export interface Reference {
  domain: string
  path: string
  tag?: string
  digest?: string
}

const component = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*'
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const domainRe = new RegExp(`^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`)
const pathRe = new RegExp(`^${component}(?:/${component})*$`)
const tagRe = /^[\w][\w.-]{0,127}$/
const digestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/

/** A repository path (`library/busybox`) and a tag, by the grammar references use: the registry checks names by it too. */
export const isRepositoryPath = (s: string): boolean => pathRe.test(s)
export const isTag = (s: string): boolean => tagRe.test(s)

export const defaultDomain = 'docker.io'
export const officialRepoPrefix = 'library/'

/** Parses and normalises a reference; throws Docker's `invalid reference format` errors. */
export function parseReference(input: string): Reference {
  if (input === '' || input.length > 255) throw invalid('invalid reference format')
  let rest = input
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!digestRe.test(digest)) throw invalid('invalid reference format')
  }
  let tag: string | undefined
  const lastColon = rest.lastIndexOf(':')
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1)
    rest = rest.slice(0, lastColon)
    if (!tagRe.test(tag)) throw invalid('invalid reference format')
  }
  let domain = defaultDomain
  let path = rest
  const slash = rest.indexOf('/')
  if (slash >= 0) {
    const first = rest.slice(0, slash)
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first
      path = rest.slice(slash + 1)
    }
  }
  if (domain === 'index.docker.io') domain = defaultDomain
  if (!domainRe.test(domain)) throw invalid('invalid reference format')
  if (path !== path.toLowerCase() && pathRe.test(path.toLowerCase())) {
    throw invalid(`invalid reference format: repository name (${path}) must be lowercase`)
  }
  if (!pathRe.test(path)) throw invalid('invalid reference format')
  if (domain === defaultDomain && !path.includes('/')) path = officialRepoPrefix + path
  const ref: Reference = { domain, path }
  if (tag !== undefined) ref.tag = tag
  if (digest !== undefined) ref.digest = digest
  return ref
}

/** Adds `:latest` when a reference has neither tag nor digest. */
export function withDefaultTag(ref: Reference): Reference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref
}

export const repositoryOf = (ref: Reference): string => `${ref.domain}/${ref.path}`

/** The full normalised string: `docker.io/library/busybox:latest`. */
export function formatReference(ref: Reference): string {
  let s = repositoryOf(ref)
  if (ref.tag !== undefined) s += `:${ref.tag}`
  if (ref.digest !== undefined) s += `@${ref.digest}`
  return s
}

/** The short form users type and Docker prints: `busybox:latest`, `user/app:1`, `host:5000/a:b`. */
export function familiarString(ref: Reference): string {
  let repo = repositoryOf(ref)
  if (ref.domain === defaultDomain) {
    repo = ref.path.startsWith(officialRepoPrefix) ? ref.path.slice(officialRepoPrefix.length) : ref.path
  }
  let s = repo
  if (ref.tag !== undefined) s += `:${ref.tag}`
  if (ref.digest !== undefined) s += `@${ref.digest}`
  return s
}

export const familiarRepository = (ref: Reference): string => familiarString({ domain: ref.domain, path: ref.path })

/** True when the input is a (possibly short) hex image or container ID rather than a name. */
export const looksLikeId = (s: string): boolean => /^(sha256:)?[a-f0-9]{1,64}$/.test(s)
