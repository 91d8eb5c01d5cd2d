import { createHash } from 'node:crypto'
import tar from 'tar-stream'

export interface FileEntry {
  name: string
  type?: 'file' | 'directory' | 'symlink' | 'link'
  content?: string | Buffer
  linkname?: string
  mode?: number
}

/** Builds a tar in memory from entries. */
export async function makeTar(entries: FileEntry[]): Promise<Buffer> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer)
  })
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve)
    pack.on('error', reject)
  })
  for (const e of entries) {
    const type = e.type ?? 'file'
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), linkname: e.linkname ?? '' }
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve())
      if (type === 'file') pack.entry(header, e.content ?? '', cb)
      else pack.entry(header, cb)
    })
  }
  pack.finalize()
  await done
  return Buffer.concat(chunks)
}

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

/** A docker-archive (docker save's legacy layout) of one image made of the given layer tars. */
export async function makeDockerArchive(
  layers: Buffer[],
  opts: { tag?: string; cmd?: string[]; architecture?: string; healthcheck?: Record<string, unknown> } = {},
): Promise<{ archive: Buffer; imageId: string }> {
  const config = JSON.stringify({
    architecture: opts.architecture ?? 'amd64',
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: {
      Cmd: opts.cmd ?? ['sh'],
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(opts.healthcheck ? { Healthcheck: opts.healthcheck } : {}),
    },
    rootfs: { type: 'layers', diff_ids: layers.map(sha) },
  })
  const configName = `${sha(config).slice(7)}.json`
  const layerNames = layers.map((_l, i) => `layer${i}/layer.tar`)
  const archive = await makeTar([
    { name: configName, content: config },
    ...layers.map((l, i) => ({ name: layerNames[i]!, content: l })),
    { name: 'manifest.json', content: JSON.stringify([{ Config: configName, RepoTags: opts.tag ? [opts.tag] : null, Layers: layerNames }]) },
  ])
  return { archive, imageId: sha(config) }
}

/** Every entry of a tar, by name, with its bytes. */
export async function readTar(data: Buffer): Promise<Map<string, { header: tar.Header; data: Buffer }>> {
  const out = new Map<string, { header: tar.Header; data: Buffer }>()
  const extract = tar.extract()
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = []
      stream.on('data', (c: unknown) => {
        chunks.push(c as Buffer)
      })
      stream.on('end', () => {
        out.set(header.name, { header, data: Buffer.concat(chunks) })
        next()
      })
    })
    extract.on('finish', resolve)
    extract.on('error', reject)
  })
  extract.end(data)
  await done
  return out
}
