import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { invalid } from '../lib/errors.ts'
import { cloneContext, isGitUrl } from '../lib/git-clone.ts'
import { peek } from '../lib/peek.ts'
import { looksLikeTar, packDirectory } from '../lib/tar.ts'

/** A context fetched by the daemon (`POST /build?remote=…`), as a tar stream, and what to remove after. */
export interface RemoteContext {
  body: Readable
  cleanup(): Promise<void>
}

/**
 * Fetches a remote context as Docker's `remote` parameter means it: a git repository (`URL#ref:subdir`) cloned
 * shallow, a tar archive (plain or compressed) over HTTP, or a plain-text Dockerfile over HTTP with an empty context.
 */
export async function fetchRemoteContext(url: string, scratch: string, signal: AbortSignal): Promise<RemoteContext> {
  if (isGitUrl(url)) return cloneRemote(url, scratch)
  if (!/^https?:\/\//.test(url)) throw invalid(`unable to prepare context: unsupported remote context ${url}: a git repository or an http(s) URL`)
  let res: Response
  try {
    res = await fetch(url, { signal, redirect: 'follow' })
  } catch (err) {
    throw invalid(`unable to prepare context: failed to GET ${url}: ${err instanceof Error ? err.message : String(err)}`, err)
  }
  if (!res.ok || !res.body) throw invalid(`unable to prepare context: failed to GET ${url} with status ${res.status} ${res.statusText}`)
  const { head, stream } = await peek(Readable.fromWeb(res.body as never), 512)
  if (looksLikeTar(head)) return { body: stream, cleanup: async () => {} }
  // Not an archive: the file is the Dockerfile, in an empty context.
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  const empty = await mkdtemp(join(scratch, 'remote-'))
  return { body: packDirectory(empty, { extra: [{ name: 'Dockerfile', data: Buffer.concat(chunks) }] }), cleanup: () => rm(empty, { recursive: true, force: true }) }
}

async function cloneRemote(url: string, scratch: string): Promise<RemoteContext> {
  const dir = await mkdtemp(join(scratch, 'git-'))
  try {
    const root = await cloneContext(url, dir)
    return { body: packDirectory(root, { skip: (rel) => rel === '.git' }), cleanup: () => rm(dir, { recursive: true, force: true }) }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw invalid(err instanceof Error ? err.message : String(err), err)
  }
}
