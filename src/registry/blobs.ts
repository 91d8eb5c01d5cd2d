import type { IncomingMessage } from 'node:http'
import { type Digest, DigestingStream } from '../content/digest.ts'
import { RegistryError } from './errors.ts'
import { type Ctx, send, sendBlobBody } from './http.ts'
import { checkDigest, checkName } from './names.ts'
import type { RegistryStorage } from './storage.ts'

export async function blob({ req, res, proxy }: Ctx, storage: RegistryStorage, repo: string, digest: Digest, method: string): Promise<void> {
  if (method === 'DELETE') {
    if (!(await storage.unlinkBlob(repo, digest))) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest })
    return send(res, 202)
  }
  if (method !== 'GET' && method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, 405)
  if (proxy && !(await storage.blobLinked(repo, digest))) await proxy.blob(repo, digest)
  const size = (await storage.blobLinked(repo, digest)) ? await storage.blobSize(digest) : undefined
  if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest })
  const headers: Record<string, string | number> = { 'Docker-Content-Digest': digest, 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: `"${digest}"` }
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
  if (range && size > 0 && (range[1] !== '' || range[2] !== '')) {
    const start = range[1] === '' ? Math.max(0, size - Number(range[2])) : Number(range[1])
    const end = range[1] === '' || range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1)
    if (start > end || start >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 }).end()
      return
    }
    res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 })
    if (method === 'HEAD') return void res.end()
    return sendBlobBody(res, storage, digest, { start, end })
  }
  res.writeHead(200, { ...headers, 'Content-Length': size })
  if (method === 'HEAD') return void res.end()
  await sendBlobBody(res, storage, digest)
}

export async function uploads(ctx: Ctx, storage: RegistryStorage, repo: string, id: string, method: string): Promise<void> {
  const { req, res, url } = ctx
  const location = (uid: string): string => `/v2/${repo}/blobs/uploads/${uid}`
  const progress = (uid: string, size: number): Record<string, string> => ({ Location: location(uid), Range: `0-${Math.max(0, size - 1)}`, 'Docker-Upload-UUID': uid })
  if (id === '') {
    if (method !== 'POST') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, 405)
    const mount = url.searchParams.get('mount')
    const from = url.searchParams.get('from')
    if (mount && from) {
      const digest = checkDigest(mount)
      if (await storage.blobLinked(checkName(from), digest)) {
        await storage.linkBlob(repo, digest)
        return send(res, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest })
      }
      // A mount that cannot be made is a new session, never an error.
    }
    const monolithic = url.searchParams.get('digest')
    if (monolithic) {
      // Streamed to disk and hashed on the way: a 100 MB blob costs no 100 MB of memory.
      const digest = checkDigest(monolithic)
      const uid = await storage.startUpload(repo)
      const hasher = new DigestingStream()
      await storage.appendUpload(uid, req, hasher).catch(async (err: unknown) => {
        await storage.cancelUpload(uid)
        throw err
      })
      if (hasher.digest() !== digest) {
        await storage.cancelUpload(uid)
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest })
      }
      await storage.commitUpload(uid, digest, repo)
      return send(res, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest })
    }
    const uid = await storage.startUpload(repo)
    const size = Number(req.headers['content-length'] ?? 0) > 0 ? await storage.appendUpload(uid, req) : 0
    return send(res, 202, { ...progress(uid, size), 'OCI-Chunk-Min-Length': 0 })
  }
  const state = await storage.uploadState(id)
  if (!state || state.repo !== repo) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { id })
  switch (method) {
    case 'GET':
      return send(res, 204, progress(id, state.size))
    case 'DELETE':
      await storage.cancelUpload(id)
      return send(res, 204)
    case 'PATCH': {
      checkChunkRange(req, state.size, progress(id, state.size))
      const size = await storage.appendUpload(id, req)
      return send(res, 202, progress(id, size))
    }
    case 'PUT': {
      const digest = checkDigest(url.searchParams.get('digest') ?? '')
      if (req.headers['content-range']) checkChunkRange(req, state.size, progress(id, state.size))
      // A PUT carrying the whole blob is hashed as it is written; one finishing earlier chunks reads them back.
      const hasher = state.size === 0 ? new DigestingStream() : undefined
      const size = await storage.appendUpload(id, req, hasher)
      const actual = hasher ? hasher.digest() : await storage.uploadDigest(id)
      if (actual !== digest) {
        await storage.cancelUpload(id)
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest, actual, size })
      }
      await storage.commitUpload(id, digest, repo)
      return send(res, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest })
    }
    default:
      throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, 405)
  }
}

/** A chunk must start where the upload ends: `Content-Range: start-end`, inclusive; out of order is a 416. */
function checkChunkRange(req: IncomingMessage, size: number, headers: Record<string, string>): void {
  const header = req.headers['content-range']
  if (header === undefined) return
  const m = /^(?:bytes )?(\d+)-(\d+)$/.exec(header)
  const length = req.headers['content-length']
  if (!m || Number(m[1]) !== size || Number(m[2]) < Number(m[1]) || (length !== undefined && Number(length) !== Number(m[2]) - Number(m[1]) + 1)) {
    throw Object.assign(new RegistryError('RANGE_INVALID', 'invalid content range', { range: header, expectedStart: size }), { headers })
  }
}
