import { type Digest, digestOf } from '../content/digest.ts'
import { mediaTypes } from '../images/types.ts'
import { RegistryError } from './errors.ts'
import { type Ctx, readAll, send, sendBlobBody } from './http.ts'
import { checkDigest, checkTag, isDigest } from './names.ts'
import type { RegistryStorage } from './storage.ts'

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
const IMAGE_MANIFESTS: string[] = [mediaTypes.dockerManifest, mediaTypes.ociManifest]
const INDEXES: string[] = [mediaTypes.dockerManifestList, mediaTypes.ociIndex]

interface Descriptor {
  mediaType?: string
  digest: string
  size?: number
  artifactType?: string
  annotations?: Record<string, string>
}

interface ManifestDoc {
  mediaType?: string
  artifactType?: string
  config?: Descriptor
  layers?: Descriptor[]
  manifests?: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
}

export async function manifest({ req, res, proxy }: Ctx, storage: RegistryStorage, repo: string, ref: string, method: string): Promise<void> {
  const byDigest = isDigest(ref)
  if (method === 'PUT') {
    if (!byDigest) checkTag(ref)
    const body = await readAll(req, MAX_MANIFEST_BYTES)
    const digest = digestOf(body)
    if (byDigest && checkDigest(ref) !== digest) throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest: ref, actual: digest })
    let doc: ManifestDoc
    try {
      doc = JSON.parse(body.toString('utf8')) as ManifestDoc
    } catch {
      throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: 'not JSON' })
    }
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim() || doc.mediaType || ''
    if (doc.mediaType && doc.mediaType !== mediaType) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: `mediaType ${doc.mediaType} does not match Content-Type ${mediaType}` })
    if (IMAGE_MANIFESTS.includes(mediaType)) {
      if (!doc.config?.digest || !Array.isArray(doc.layers)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: 'config and layers are required' })
      for (const d of [doc.config, ...doc.layers]) {
        const digest = checkDigest(String(d.digest))
        if (!(await storage.blobLinked(repo, digest))) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest })
      }
    } else if (INDEXES.includes(mediaType)) {
      if (!Array.isArray(doc.manifests)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: 'manifests is required' })
      for (const d of doc.manifests) {
        const digest = checkDigest(String(d.digest))
        if (!(await storage.manifestType(repo, digest))) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest })
      }
    } else throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: `unsupported media type ${mediaType || '(none)'}` })
    await storage.putBlob(digest, body)
    await storage.putManifest(repo, digest, mediaType)
    if (!byDigest) await storage.tag(repo, ref, digest)
    const headers: Record<string, string> = { Location: `/v2/${repo}/manifests/${digest}`, 'Docker-Content-Digest': digest }
    if (doc.subject?.digest) headers['OCI-Subject'] = doc.subject.digest
    return send(res, 201, headers)
  }
  if (byDigest) checkDigest(ref)
  else checkTag(ref)
  // A cache asks upstream for a tag every time (it may have moved), for a digest only when it has not got it.
  if (proxy && (method === 'GET' || method === 'HEAD') && (!byDigest || !(await storage.manifestType(repo, ref as Digest)))) await proxy.manifest(repo, ref, byDigest)
  const digest = byDigest ? (ref as Digest) : await storage.resolveTag(repo, ref)
  if (method === 'DELETE') {
    if (!byDigest) {
      if (!(await storage.untag(repo, ref))) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { tag: ref })
      return send(res, 202)
    }
    if (!(await storage.deleteManifest(repo, digest!))) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { digest: ref })
    return send(res, 202)
  }
  if (method !== 'GET' && method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, 405)
  const mediaType = digest ? await storage.manifestType(repo, digest) : undefined
  if (!digest || !mediaType) {
    if (!(await storage.repositoryExists(repo))) throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: repo })
    throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', byDigest ? { digest: ref } : { tag: ref })
  }
  const size = (await storage.blobSize(digest))!
  res.writeHead(200, { 'Content-Type': mediaType, 'Content-Length': size, 'Docker-Content-Digest': digest, ETag: `"${digest}"` })
  if (method === 'HEAD') return void res.end()
  await sendBlobBody(res, storage, digest)
}

/** The manifests of a repository whose `subject` is the digest, as an OCI index (filtered by `artifactType`). */
export async function referrers({ res, url }: Ctx, storage: RegistryStorage, repo: string, subject: Digest): Promise<void> {
  const filter = url.searchParams.get('artifactType')
  const found: Descriptor[] = []
  for (const digest of await storage.manifests(repo)) {
    const mediaType = (await storage.manifestType(repo, digest)) ?? ''
    const chunks: Buffer[] = []
    for await (const c of storage.openBlob(digest) as AsyncIterable<Buffer>) chunks.push(c)
    const body = Buffer.concat(chunks)
    let doc: ManifestDoc
    try {
      doc = JSON.parse(body.toString('utf8')) as ManifestDoc
    } catch {
      continue
    }
    if (doc.subject?.digest !== subject) continue
    const artifactType = doc.artifactType ?? doc.config?.mediaType
    if (filter && artifactType !== filter) continue
    found.push({ mediaType, digest, size: body.length, ...(artifactType ? { artifactType } : {}), ...(doc.annotations ? { annotations: doc.annotations } : {}) })
  }
  const headers: Record<string, string> = { 'Content-Type': mediaTypes.ociIndex }
  if (filter) headers['OCI-Filters-Applied'] = 'artifactType'
  send(res, 200, headers, JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests: found }))
}
