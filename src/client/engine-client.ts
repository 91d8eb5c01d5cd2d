import type { Duplex, Readable } from 'node:stream'
import type {
  ContainerConfig,
  ContainerCreateBody,
  ContainerInspect,
  ContainerSummary,
  ImageDeleteItem,
  ImageHistoryItem,
  ImageInspect,
  ImageSummary,
  JsonMessage,
  NetworkCreateBody,
  PathStat,
  StatsSample,
  NetworkInspect,
  NodeView,
  SystemInfo,
  Version,
  WaitResponse,
  VolumeView,
  AuthConfig,
  SearchResult,
  StoreCheckReport,
} from '../wire/types.ts'
import { type ClientTls, endpointOf } from './endpoint.ts'
import { ApiError, HttpTransport, type ResponseHeaders, clientApiVersion, readAll, versionLess } from './http.ts'
import { type StreamChunk, demux, jsonLines } from './streams.ts'

export { ApiError }
export type Filters = Record<string, string[]>

export interface ClientOptions {
  /** `unix:///run/cais/cais.sock` (or a bare socket path), `tcp://HOST:PORT`, `ssh://[USER@]HOST[:PORT]`. */
  host: string
  /** TLS to a tcp:// daemon. */
  tls?: ClientTls | undefined
  /**
   * API version to speak as it is (`DOCKER_API_VERSION` for the CLI). Without it the client negotiates: the
   * lower of 1.50 and the daemon's.
   */
  apiVersion?: string | undefined
}

export const defaultHost = 'unix:///run/cais/cais.sock'


const filtersQuery = (f: Filters | undefined): string | undefined =>
  f && Object.keys(f).length > 0 ? JSON.stringify(Object.fromEntries(Object.entries(f).map(([k, vs]) => [k, Object.fromEntries(vs.map((v) => [v, true]))]))) : undefined

/**
 * The typed Engine API client. Older engines send `null` where an empty list or map is meant (dockerd 20.10's
 * `RepoDigests`, `Labels`, `Volumes`); lists come back with those normalised, so callers see one shape whatever
 * the daemon. The CLI, compose, the dashboard and the tests use only this to talk to a daemon.
 * @example
 * const client = new EngineClient({ host: 'unix:///run/cais/cais.sock' })
 * const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['echo', 'hi'] })
 * await client.containers.start(Id)
 */
export class EngineClient {
  readonly http: HttpTransport

  constructor(opts: ClientOptions) {
    this.http = new HttpTransport(endpointOf(opts.host, opts.tls), opts.apiVersion ?? clientApiVersion, { negotiate: opts.apiVersion === undefined })
  }

  close(): void {
    this.http.close()
  }

  /**
   * Whether an output stream (logs, attach, exec) is framed by stream. From API 1.42 the daemon says so in its
   * Content-Type; before, it says `raw-stream` (or, for logs, nothing) either way, and the output is framed unless
   * the container (or exec) has a TTY, which is how the docker CLI decides.
   */
  async #framed(headers: ResponseHeaders, tty: () => Promise<boolean>): Promise<boolean> {
    if (headers['content-type'] === 'application/vnd.docker.multiplexed-stream') return true
    const version = this.http.version
    if (version === undefined || !versionLess(version, '1.42')) return false
    return !(await tty())
  }

  async #ttyOf(container: string): Promise<boolean> {
    return (await this.containers.inspect(container)).Config.Tty === true
  }

  readonly system = {
    ping: async (): Promise<string> => (await readAll(await this.http.send('GET', '/_ping'))).toString('utf8'),
    version: (): Promise<Version> => this.http.json('GET', '/version'),
    info: (): Promise<SystemInfo> => this.http.json('GET', '/info'),
    /** Checks credentials against a registry (`docker login`). */
    auth: (config: AuthConfig): Promise<{ Status: string; IdentityToken?: string }> => this.http.json('POST', '/auth', { body: config }),
    df: (): Promise<{ LayersSize: number; Images: ImageSummary[]; Containers: ContainerSummary[]; Volumes: VolumeView[]; BuildCache: unknown[] }> =>
      this.http.json('GET', '/system/df'),
    /** cais's `system check`: the store checked (and with `repair`, mended where nothing is lost). */
    check: (opts: { repair?: boolean } = {}): Promise<StoreCheckReport> => this.http.json('POST', '/system/check', { query: { repair: opts.repair ? '1' : undefined } }),
    /** The raw NDJSON event stream. */
    events: (opts: { since?: string; until?: string; filters?: Filters; signal?: AbortSignal } = {}): Promise<Readable> =>
      this.http.send('GET', '/events', { query: { since: opts.since, until: opts.until, filters: filtersQuery(opts.filters) }, signal: opts.signal }),
  }

  readonly containers = {
    /** With `platform` (`os/arch[/variant]`), the image must be for it: a 404 otherwise, as for a missing image. */
    create: (body: ContainerCreateBody, opts: { name?: string | undefined; platform?: string | undefined } = {}): Promise<{ Id: string; Warnings: string[] }> =>
      this.http.json('POST', '/containers/create', { query: { name: opts.name, platform: opts.platform }, body }),
    start: async (id: string): Promise<void> => {
      await this.http.empty('POST', `/containers/${encodeURIComponent(id)}/start`)
    },
    /** Returns false when the container was already stopped (304). */
    stop: async (id: string, opts: { t?: number | undefined; signal?: string | undefined } = {}): Promise<boolean> =>
      (await this.http.empty('POST', `/containers/${encodeURIComponent(id)}/stop`, { query: { t: opts.t, signal: opts.signal } })) !== 304,
    restart: async (id: string, opts: { t?: number | undefined; signal?: string | undefined } = {}): Promise<void> => {
      await this.http.empty('POST', `/containers/${encodeURIComponent(id)}/restart`, { query: { t: opts.t, signal: opts.signal } })
    },
    kill: async (id: string, signal?: string): Promise<void> => {
      await this.http.empty('POST', `/containers/${encodeURIComponent(id)}/kill`, { query: { signal } })
    },
    remove: async (id: string, opts: { force?: boolean; v?: boolean } = {}): Promise<void> => {
      await this.http.empty('DELETE', `/containers/${encodeURIComponent(id)}`, { query: { force: opts.force, v: opts.v } })
    },
    /** With `size`, the sizes of the writable layer and of the whole root filesystem too (SizeRw, SizeRootFs). */
    inspect: (id: string, opts: { size?: boolean } = {}): Promise<ContainerInspect> =>
      this.http.json('GET', `/containers/${encodeURIComponent(id)}/json`, { query: { size: opts.size || undefined } }),
    list: async (opts: { all?: boolean; limit?: number; filters?: Filters; size?: boolean } = {}): Promise<ContainerSummary[]> =>
      (
        await this.http.json<ContainerSummary[]>('GET', '/containers/json', {
          query: { all: opts.all, limit: opts.limit, filters: filtersQuery(opts.filters), size: opts.size || undefined },
        })
      ).map((c) => ({ ...c, Names: c.Names ?? [], Ports: c.Ports ?? [], Labels: c.Labels ?? {}, Mounts: c.Mounts ?? [] })),
    /**
     * Starts waiting; resolves once the daemon has sent the headers, so the caller may then start the container.
     * `result` resolves at the condition.
     */
    wait: async (id: string, condition?: 'not-running' | 'next-exit' | 'removed'): Promise<{ result: Promise<WaitResponse> }> => {
      const res = await this.http.send('POST', `/containers/${encodeURIComponent(id)}/wait`, { query: { condition } })
      const result = (async (): Promise<WaitResponse> => {
        const chunks: Buffer[] = []
        for await (const c of res as AsyncIterable<Buffer>) chunks.push(c)
        return JSON.parse(Buffer.concat(chunks).toString('utf8')) as WaitResponse
      })()
      return { result }
    },
    logs: async (
      id: string,
      opts: { follow?: boolean; stdout?: boolean; stderr?: boolean; timestamps?: boolean; details?: boolean; tail?: string; since?: string; until?: string; signal?: AbortSignal } = {},
    ): Promise<AsyncGenerator<StreamChunk>> => {
      const res = await this.http.send('GET', `/containers/${encodeURIComponent(id)}/logs`, {
        query: {
          follow: opts.follow,
          stdout: opts.stdout ?? true,
          stderr: opts.stderr ?? true,
          timestamps: opts.timestamps,
          details: opts.details || undefined,
          tail: opts.tail,
          since: opts.since,
          until: opts.until,
        },
        signal: opts.signal,
      })
      return demux(res, await this.#framed(res.headers, () => this.#ttyOf(id)))
    },
    top: (id: string, psArgs?: string): Promise<{ Titles: string[]; Processes: string[][] }> =>
      this.http.json('GET', `/containers/${encodeURIComponent(id)}/top`, { query: { ps_args: psArgs } }),
    changes: (id: string): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>> => this.http.json('GET', `/containers/${encodeURIComponent(id)}/changes`),
    prune: (opts: { filters?: Filters } = {}): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> =>
      this.http.json('POST', '/containers/prune', { query: { filters: filtersQuery(opts.filters) } }),
    pause: async (id: string): Promise<void> => {
      await this.http.empty('POST', `/containers/${encodeURIComponent(id)}/pause`)
    },
    unpause: async (id: string): Promise<void> => {
      await this.http.empty('POST', `/containers/${encodeURIComponent(id)}/unpause`)
    },
    /** `docker update`: resource limits and restart policy. */
    update: (id: string, body: Record<string, unknown>): Promise<{ Warnings: string[] }> =>
      this.http.json('POST', `/containers/${encodeURIComponent(id)}/update`, { body }),
    /** One stats sample (`stream: false`), or the stream of them. */
    stats: async (id: string, opts: { stream?: boolean; oneShot?: boolean; signal?: AbortSignal } = {}): Promise<AsyncGenerator<StatsSample>> =>
      jsonLines<StatsSample>(
        await this.http.send('GET', `/containers/${encodeURIComponent(id)}/stats`, {
          query: { stream: opts.stream ?? false, 'one-shot': opts.oneShot },
          ...(opts.signal ? { signal: opts.signal } : {}),
        }),
      ),
    /** The stat of a path in a container (`HEAD …/archive`); undefined when it does not exist. */
    statPath: async (id: string, path: string): Promise<PathStat | undefined> => {
      let res
      try {
        res = await this.http.send('HEAD', `/containers/${encodeURIComponent(id)}/archive`, { query: { path } })
      } catch (err) {
        if (err instanceof ApiError && err.status === 404 && !/No such container/.test(err.message)) return undefined
        throw err
      }
      res.resume()
      const header = res.headers['x-docker-container-path-stat']
      return typeof header === 'string' ? (JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as PathStat) : undefined
    },
    /** A tar of a path in a container, and its stat. */
    getArchive: async (id: string, path: string): Promise<{ stat: PathStat; tar: Readable }> => {
      const res = await this.http.send('GET', `/containers/${encodeURIComponent(id)}/archive`, { query: { path } })
      const header = res.headers['x-docker-container-path-stat']
      return { stat: JSON.parse(Buffer.from(String(header ?? 'e30='), 'base64').toString('utf8')) as PathStat, tar: res }
    },
    /** Unpacks a tar into a directory of a container. */
    putArchive: async (id: string, path: string, tar: Readable, opts: { copyUIDGID?: boolean } = {}): Promise<void> => {
      const res = await this.http.send('PUT', `/containers/${encodeURIComponent(id)}/archive`, { query: { path, copyUIDGID: opts.copyUIDGID }, stream: tar })
      res.resume()
    },
    /** `docker export`: a tar of the container's root filesystem. */
    export: (id: string): Promise<Readable> => this.http.send('GET', `/containers/${encodeURIComponent(id)}/export`),
    rename: async (id: string, name: string): Promise<void> => {
      await this.http.empty('POST', `/containers/${encodeURIComponent(id)}/rename`, { query: { name } })
    },
    /** Attaches to the container's output (hijacked); resolves after the daemon's `101`. */
    attach: async (
      id: string,
      opts: { stream?: boolean; logs?: boolean; stdout?: boolean; stderr?: boolean; stdin?: boolean; detachKeys?: string | undefined } = {},
    ): Promise<{ output: AsyncGenerator<StreamChunk>; socket: Duplex }> => {
      const { socket, head, headers } = await this.http.hijack('POST', `/containers/${encodeURIComponent(id)}/attach`, {
        query: { stream: opts.stream ?? true, logs: opts.logs, stdout: opts.stdout ?? true, stderr: opts.stderr ?? true, stdin: opts.stdin, detachKeys: opts.detachKeys },
      })
      return { output: hijackedOutput(socket, head, await this.#framed(headers, () => this.#ttyOf(id))), socket }
    },
    /** The size of a TTY container's terminal. */
    resize: async (id: string, height: number, width: number): Promise<void> => {
      await this.http.empty('POST', `/containers/${encodeURIComponent(id)}/resize`, { query: { h: height, w: width } })
    },
  }

  readonly execs = {
    create: (
      container: string,
      body: { Cmd: string[]; Env?: string[]; User?: string; WorkingDir?: string; Privileged?: boolean; Tty?: boolean; ConsoleSize?: [number, number]; AttachStdin?: boolean; AttachStdout?: boolean; AttachStderr?: boolean; DetachKeys?: string },
    ): Promise<{ Id: string }> =>
      this.http.json('POST', `/containers/${encodeURIComponent(container)}/exec`, { body }),
    /** Starts an exec attached: resolves after the daemon's `101` with the output and the socket for stdin. */
    start: async (id: string, opts: { tty?: boolean; consoleSize?: [number, number] | undefined } = {}): Promise<{ output: AsyncGenerator<StreamChunk>; socket: Duplex }> => {
      const body = { Detach: false, Tty: opts.tty ?? false, ...(opts.consoleSize ? { ConsoleSize: opts.consoleSize } : {}) }
      const { socket, head, headers } = await this.http.hijack('POST', `/exec/${id}/start`, { body })
      return { output: hijackedOutput(socket, head, await this.#framed(headers, async () => opts.tty ?? false)), socket }
    },
    startDetached: async (id: string): Promise<void> => {
      await this.http.empty('POST', `/exec/${id}/start`, { body: { Detach: true, Tty: false } })
    },
    resize: async (id: string, height: number, width: number): Promise<void> => {
      await this.http.empty('POST', `/exec/${id}/resize`, { query: { h: height, w: width } })
    },
    inspect: (id: string): Promise<{ ID: string; Running: boolean; ExitCode: number | null; ContainerID: string; Pid: number }> =>
      this.http.json('GET', `/exec/${id}/json`),
  }

  /** The nodes of the daemon's cluster store (a daemon without one answers as Docker's outside a swarm). */
  readonly nodes = {
    list: (): Promise<NodeView[]> => this.http.json('GET', '/nodes'),
  }

  readonly volumes = {
    create: (body: { Name?: string; Driver?: string; DriverOpts?: Record<string, string>; Labels?: Record<string, string> } = {}): Promise<VolumeView> =>
      this.http.json('POST', '/volumes/create', { body }),
    list: async (opts: { filters?: Filters } = {}): Promise<{ Volumes: VolumeView[]; Warnings: string[] }> => {
      const r = await this.http.json<{ Volumes: VolumeView[] | null; Warnings: string[] | null }>('GET', '/volumes', { query: { filters: filtersQuery(opts.filters) } })
      return { Volumes: r.Volumes ?? [], Warnings: r.Warnings ?? [] }
    },
    inspect: (name: string): Promise<VolumeView> => this.http.json('GET', `/volumes/${encodeURIComponent(name)}`),
    remove: async (name: string, opts: { force?: boolean } = {}): Promise<void> => {
      await this.http.empty('DELETE', `/volumes/${encodeURIComponent(name)}`, { query: { force: opts.force } })
    },
    prune: (opts: { filters?: Filters } = {}): Promise<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }> =>
      this.http.json('POST', '/volumes/prune', { query: { filters: filtersQuery(opts.filters) } }),
  }

  readonly networks = {
    list: (opts: { filters?: Filters } = {}): Promise<NetworkInspect[]> => this.http.json('GET', '/networks', { query: { filters: filtersQuery(opts.filters) } }),
    inspect: (id: string): Promise<NetworkInspect> => this.http.json('GET', `/networks/${encodeURIComponent(id)}`),
    create: (body: NetworkCreateBody): Promise<{ Id: string; Warning: string }> => this.http.json('POST', '/networks/create', { body }),
    remove: async (id: string): Promise<void> => {
      await this.http.empty('DELETE', `/networks/${encodeURIComponent(id)}`)
    },
    prune: (opts: { filters?: Filters } = {}): Promise<{ NetworksDeleted: string[] | null }> =>
      this.http.json('POST', '/networks/prune', { query: { filters: filtersQuery(opts.filters) } }),
    connect: async (id: string, container: string, endpoint: { Aliases?: string[]; IPAMConfig?: { IPv4Address?: string }; GwPriority?: number } = {}): Promise<void> => {
      await this.http.empty('POST', `/networks/${encodeURIComponent(id)}/connect`, { body: { Container: container, EndpointConfig: endpoint } })
    },
    disconnect: async (id: string, container: string, opts: { force?: boolean } = {}): Promise<void> => {
      await this.http.empty('POST', `/networks/${encodeURIComponent(id)}/disconnect`, { body: { Container: container, Force: opts.force ?? false } })
    },
  }

  readonly images = {
    list: async (opts: { all?: boolean; filters?: Filters } = {}): Promise<ImageSummary[]> =>
      (await this.http.json<ImageSummary[]>('GET', '/images/json', { query: { all: opts.all, filters: filtersQuery(opts.filters) } })).map((i) => ({
        ...i,
        RepoTags: i.RepoTags ?? [],
        RepoDigests: i.RepoDigests ?? [],
        Labels: i.Labels ?? {},
      })),
    inspect: async (name: string): Promise<ImageInspect> => {
      const i = await this.http.json<ImageInspect>('GET', `/images/${name}/json`)
      return { ...i, RepoTags: i.RepoTags ?? [], RepoDigests: i.RepoDigests ?? [] }
    },
    remove: (name: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<ImageDeleteItem[]> =>
      this.http.json('DELETE', `/images/${name}`, { query: { force: opts.force, noprune: opts.noprune } }),
    history: (name: string): Promise<ImageHistoryItem[]> => this.http.json('GET', `/images/${name}/history`),
    /** `docker commit`: a container's writable layer and config as a new image. */
    commit: (
      container: string,
      opts: { repo?: string | undefined; tag?: string | undefined; comment?: string | undefined; author?: string | undefined; changes?: string[]; pause?: boolean; config?: Partial<ContainerConfig> } = {},
    ): Promise<{ Id: string }> =>
      this.http.json('POST', '/commit', {
        query: { container, repo: opts.repo, tag: opts.tag, comment: opts.comment, author: opts.author, changes: opts.changes, pause: opts.pause },
        body: opts.config ?? {},
      }),
    prune: (opts: { filters?: Filters } = {}): Promise<{ ImagesDeleted: ImageDeleteItem[] | null; SpaceReclaimed: number }> =>
      this.http.json('POST', '/images/prune', { query: { filters: filtersQuery(opts.filters) } }),
    tag: async (name: string, repo: string, tag?: string): Promise<void> => {
      await this.http.empty('POST', `/images/${name}/tag`, { query: { repo, tag } })
    },
    /** `docker import`: a rootfs tar becomes a one-layer image; returns the progress messages. */
    import: async (tar: Readable, opts: { repo?: string | undefined; message?: string | undefined; changes?: string[] | undefined } = {}): Promise<JsonMessage[]> =>
      collect(await this.http.send('POST', '/images/create', { query: { fromSrc: '-', repo: opts.repo, message: opts.message, changes: opts.changes }, stream: tar })),
    load: async (tar: Readable, opts: { quiet?: boolean } = {}): Promise<JsonMessage[]> =>
      collect(await this.http.send('POST', '/images/load', { query: { quiet: opts.quiet }, stream: tar })),
    /** `docker build` (classic builder): the context tar in, the build's JSON messages out. */
    build: async (context: Readable, query: Record<string, string | string[] | boolean | number | undefined>, headers: Record<string, string> = {}): Promise<AsyncGenerator<JsonMessage>> =>
      jsonLines<JsonMessage>(await this.http.send('POST', '/build', { query, stream: context, headers: { 'Content-Type': 'application/x-tar', ...headers } })),
    /** `docker builder prune`. */
    pruneBuildCache: (opts: { all?: boolean; filters?: Filters; keepStorage?: number | undefined } = {}): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> =>
      this.http.json('POST', '/build/prune', { query: { all: opts.all, filters: filtersQuery(opts.filters), 'keep-storage': opts.keepStorage } }),
    save: (names: string[]): Promise<Readable> => this.http.send('GET', '/images/get', { query: { names } }),
    /** `docker pull`: the progress stream; an empty tag pulls every tag. `auth` is the X-Registry-Auth value. */
    pull: async (image: string, opts: { tag?: string; platform?: string | undefined; auth?: string | undefined } = {}): Promise<AsyncGenerator<JsonMessage>> =>
      jsonLines<JsonMessage>(
        await this.http.send('POST', '/images/create', {
          query: { fromImage: image, tag: opts.tag ?? '', platform: opts.platform },
          headers: opts.auth ? { 'X-Registry-Auth': opts.auth } : undefined,
        }),
      ),
    /** `docker push`: the progress stream; without a tag every tag of the repository is pushed. */
    push: async (name: string, opts: { tag?: string | undefined; auth?: string | undefined } = {}): Promise<AsyncGenerator<JsonMessage>> =>
      jsonLines<JsonMessage>(
        await this.http.send('POST', `/images/${name}/push`, {
          query: { tag: opts.tag },
          headers: { 'X-Registry-Auth': opts.auth ?? 'e30=' },
        }),
      ),
    search: (term: string, opts: { limit?: number | undefined; auth?: string | undefined } = {}): Promise<SearchResult[]> =>
      this.http.json('GET', '/images/search', { query: { term, limit: opts.limit }, headers: opts.auth ? { 'X-Registry-Auth': opts.auth } : undefined }),
  }
}

/** The output of a hijacked attach or exec: bytes already read with the headers first, demultiplexed when framed. */
function hijackedOutput(socket: Duplex, head: Buffer, framed: boolean): AsyncGenerator<StreamChunk> {
  async function* bytes(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head
    for await (const c of socket as AsyncIterable<Buffer>) yield c
  }
  return demux(bytes(), framed)
}

/** The messages of a JSON stream; an error in it is thrown as its message alone, as the docker CLI prints it. */
async function collect(res: Readable): Promise<JsonMessage[]> {
  const out: JsonMessage[] = []
  for await (const m of jsonLines<JsonMessage>(res)) {
    if (m.errorDetail || m.error) throw new Error(m.errorDetail?.message ?? m.error ?? 'unknown error')
    out.push(m)
  }
  return out
}
