import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import tar from 'tar-stream'
import { configDir, configPath, readConfig, writeConfig } from './config-file.ts'

/**
 * Contexts, stored as the docker CLI stores them (`contexts/meta/<sha256 of name>/meta.json`, TLS files in
 * `contexts/tls/<sha256 of name>/docker/{ca,cert,key}.pem`, the current one in config.json's `currentContext`), so
 * a config directory, or an exported context, serves cais and docker alike.
 */
export interface ContextEndpoint {
  host: string
  skipTLSVerify: boolean
  tls?: { ca?: Buffer | undefined; cert?: Buffer | undefined; key?: Buffer | undefined }
}

export interface Context {
  name: string
  description: string
  endpoint: ContextEndpoint
}

interface MetaFile {
  Name: string
  Metadata?: { Description?: string; [k: string]: unknown }
  Endpoints: { docker?: { Host?: string; SkipTLSVerify?: boolean } }
}

const TLS_FILES = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' } as const

export class ContextStore {
  readonly #dir: string
  readonly #env: NodeJS.ProcessEnv

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.#env = env
    this.#dir = join(configDir(env), 'contexts')
  }

  static validName(name: string): boolean {
    return /^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$/.test(name)
  }

  #id(name: string): string {
    return createHash('sha256').update(name).digest('hex')
  }

  /** Every stored context, by name. */
  list(): Context[] {
    const meta = join(this.#dir, 'meta')
    if (!existsSync(meta)) return []
    return readdirSync(meta)
      .map((id) => this.#read(join(meta, id, 'meta.json'), id))
      .filter((c): c is Context => c !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name))
  }

  get(name: string): Context | undefined {
    return this.#read(join(this.#dir, 'meta', this.#id(name), 'meta.json'), this.#id(name))
  }

  #read(file: string, id: string): Context | undefined {
    let meta: MetaFile
    try {
      meta = JSON.parse(readFileSync(file, 'utf8')) as MetaFile
    } catch {
      return undefined
    }
    const tlsDir = join(this.#dir, 'tls', id, 'docker')
    const tlsFile = (f: string): Buffer | undefined => (existsSync(join(tlsDir, f)) ? readFileSync(join(tlsDir, f)) : undefined)
    const tls = { ca: tlsFile(TLS_FILES.ca), cert: tlsFile(TLS_FILES.cert), key: tlsFile(TLS_FILES.key) }
    return {
      name: meta.Name,
      description: meta.Metadata?.Description ?? '',
      endpoint: { host: meta.Endpoints.docker?.Host ?? '', skipTLSVerify: meta.Endpoints.docker?.SkipTLSVerify ?? false, ...(tls.ca || tls.cert || tls.key ? { tls } : {}) },
    }
  }

  async save(ctx: Context): Promise<void> {
    const id = this.#id(ctx.name)
    const metaDir = join(this.#dir, 'meta', id)
    await mkdir(metaDir, { recursive: true, mode: 0o755 })
    const meta: MetaFile = { Name: ctx.name, Metadata: { Description: ctx.description }, Endpoints: { docker: { Host: ctx.endpoint.host, SkipTLSVerify: ctx.endpoint.skipTLSVerify } } }
    await writeAtomic(join(metaDir, 'meta.json'), JSON.stringify(meta), 0o644)
    const tlsDir = join(this.#dir, 'tls', id, 'docker')
    await rm(join(this.#dir, 'tls', id), { recursive: true, force: true })
    const tls = ctx.endpoint.tls
    if (tls && (tls.ca || tls.cert || tls.key)) {
      await mkdir(tlsDir, { recursive: true, mode: 0o700 })
      for (const [k, file] of Object.entries(TLS_FILES)) {
        const data = tls[k as keyof typeof TLS_FILES]
        if (data) await writeAtomic(join(tlsDir, file), data, 0o600)
      }
    }
  }

  async remove(name: string): Promise<void> {
    const id = this.#id(name)
    await rm(join(this.#dir, 'meta', id), { recursive: true, force: true })
    await rm(join(this.#dir, 'tls', id), { recursive: true, force: true })
  }

  /** The context config.json names as current ('default' when none). */
  async current(): Promise<string> {
    return (await readConfig(configPath(this.#env))).currentContext || 'default'
  }

  async use(name: string): Promise<void> {
    const path = configPath(this.#env)
    const config = await readConfig(path)
    if (name === 'default') delete config.currentContext
    else config.currentContext = name
    await writeConfig(path, config)
  }

  /** The docker CLI's export format: a tar of `meta.json` and `tls/docker/*.pem`. */
  async export(name: string): Promise<Readable> {
    const id = this.#id(name)
    const pack = tar.pack()
    pack.entry({ name: 'meta.json', mode: 0o644 }, await readFile(join(this.#dir, 'meta', id, 'meta.json')))
    const tlsDir = join(this.#dir, 'tls', id, 'docker')
    if (existsSync(tlsDir)) {
      pack.entry({ name: 'tls', type: 'directory', mode: 0o700 })
      pack.entry({ name: 'tls/docker', type: 'directory', mode: 0o700 })
      for (const f of readdirSync(tlsDir)) pack.entry({ name: `tls/docker/${f}`, mode: 0o600 }, readFileSync(join(tlsDir, f)))
    }
    pack.finalize()
    return Readable.from(pack)
  }

  /** Imports an exported context under `name` (the name inside the archive is replaced, as docker does). */
  async import(name: string, archive: Readable): Promise<void> {
    // The docker CLI's exports end without the tar's end blocks, even without the last file's padding: read the
    // archive whole (a context is a few kB), and complete it before reading the entries.
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of archive as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > 1024 * 1024) throw new Error('invalid context archive: larger than 1 MB')
      chunks.push(chunk)
    }
    const raw = Buffer.concat(chunks)
    const padded = Buffer.concat([raw, Buffer.alloc((512 - (raw.length % 512)) % 512 + 1024)])
    const files = new Map<string, Buffer>()
    const extract = tar.extract()
    const done = new Promise<void>((resolve, reject) => {
      extract.on('entry', (header, stream, next) => {
        const parts: Buffer[] = []
        stream.on('data', (data: unknown) => parts.push(data as Buffer))
        stream.on('end', () => {
          if (header.type === 'file') files.set(header.name.replace(/^\.\//, ''), Buffer.concat(parts))
          next()
        })
      })
      extract.on('finish', resolve)
      extract.on('error', (err: Error) => reject(new Error(`invalid context archive: ${err.message}`)))
    })
    extract.end(padded)
    await done
    const metaText = files.get('meta.json')
    if (!metaText) throw new Error('invalid context archive: no meta.json')
    let meta: MetaFile
    try {
      meta = JSON.parse(metaText.toString('utf8')) as MetaFile
    } catch {
      throw new Error('invalid context archive: meta.json is not JSON')
    }
    const tls = { ca: files.get('tls/docker/ca.pem'), cert: files.get('tls/docker/cert.pem'), key: files.get('tls/docker/key.pem') }
    await this.save({
      name,
      description: meta.Metadata?.Description ?? '',
      endpoint: { host: meta.Endpoints.docker?.Host ?? '', skipTLSVerify: meta.Endpoints.docker?.SkipTLSVerify ?? false, ...(tls.ca || tls.cert || tls.key ? { tls } : {}) },
    })
  }
}

async function writeAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, data, { mode })
  await rename(tmp, path)
}
