import { isRepositoryPath, isTag } from '../images/reference.ts'
import { RegistryError } from './errors.ts'

// Names and tags follow the reference grammar the engine uses; digests here are sha256, the one algorithm stored.
const DIGEST = /^sha256:[a-f0-9]{64}$/

export function checkName(name: string): string {
  if (name.length > 255 || !isRepositoryPath(name)) throw new RegistryError('NAME_INVALID', 'invalid repository name', { name })
  return name
}

export const isDigest = (ref: string): boolean => ref.includes(':')

export function checkDigest(digest: string): `sha256:${string}` {
  if (!DIGEST.test(digest)) throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest, reason: 'malformed or unsupported digest' })
  return digest as `sha256:${string}`
}

export function checkTag(tag: string): string {
  if (!isTag(tag)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { tag, reason: 'invalid tag' })
  return tag
}
