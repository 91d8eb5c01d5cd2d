import { RegistryError } from './errors.ts'

const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/
const DIGEST = /^sha256:[a-f0-9]{64}$/

export function checkName(name: string): string {
  if (name.length > 255 || !NAME.test(name)) throw new RegistryError('NAME_INVALID', 'invalid repository name', { name })
  return name
}

export const isDigest = (ref: string): boolean => ref.includes(':')

export function checkDigest(digest: string): `sha256:${string}` {
  if (!DIGEST.test(digest)) throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest, reason: 'malformed or unsupported digest' })
  return digest as `sha256:${string}`
}

export function checkTag(tag: string): string {
  if (!TAG.test(tag)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { tag, reason: 'invalid tag' })
  return tag
}
