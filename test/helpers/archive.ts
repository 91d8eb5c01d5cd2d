import { createHash } from 'node:crypto'
import tar from 'tar-stream'

export interface FileEntry {
  name: string
  type?: 'file' | 'directory' | 'symlink'
  content?: string
  linkname?: string
  mode?: number
}

/** Builds a tar in memory from entries. */
export async function makeTar(entries: FileEntry[]): Promise<Buffer> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  pack.on('data', (c: Buffer) => chunks.push(c))
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve)
    pack.on('error', reject)
  })
  for (const e of entries) {
    const type = e.type ?? 'file'
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), linkname: e.linkname ?? '' }
      pack.entry(header, type === 'file' ? (e.content ?? '') : undefined, (err) => (err ? reject(err) : resolve()))
    })
  }
  pack.finalize()
  await done
  return Buffer.concat(chunks)
}

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

/** A docker-archive (docker save's legacy layout) of one image made of the given layer tars. */
export async function makeDockerArchive(layers: Buffer[], opts: { tag?: string; cmd?: string[] } = {}): Promise<{ archive: Buffer; imageId: string }> {
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: { Cmd: opts.cmd ?? ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map(sha) },
  })
  const configName = `${sha(config).slice(7)}.json`
  const entries: FileEntry[] = [{ name: configName, content: config }]
  const layerNames = layers.map((l, i) => `layer${i}/layer.tar`)
  layers.forEach((l, i) => entries.push({ name: layerNames[i]!, content: l.toString('latin1') }))
  entries.push({ name: 'manifest.json', content: JSON.stringify([{ Config: configName, RepoTags: opts.tag ? [opts.tag] : null, Layers: layerNames }]) })
  // contents are binary tars: pack them as latin1 strings keeps every byte
  const pack = tar.pack()
  const chunks: Buffer[] = []
  pack.on('data', (c: Buffer) => chunks.push(c))
  const done = new Promise<void>((resolve) => pack.on('end', resolve))
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => pack.entry({ name: e.name }, Buffer.from(e.content ?? '', 'latin1'), (err) => (err ? reject(err) : resolve())))
  }
  pack.finalize()
  await done
  return { archive: Buffer.concat(chunks), imageId: sha(config) }
}
