// The crash torture's workload: workers, each driving objects of its own through the API, and the model of what the
// daemon acknowledged about each. An object is `present` once its creation was answered with success, `absent`
// once its removal was, and `unknown` while a call about it was cut by a kill: then either outcome is allowed,
// and the check after the restart learns which one it was. Besides their own objects, the workers race one another
// on a few shared ones, where no model is kept: any answer but a server error will do, and the host checks judge.
import { Readable } from 'node:stream'
import { pack } from 'tar-stream'
import { ApiError } from '../../src/client/http.ts'
import type { EngineClient } from '../../src/client/engine-client.ts'

/** mulberry32: small, fast, and the same sequence from the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export type Certainty = 'present' | 'absent' | 'unknown'

export interface ContainerModel {
  name: string
  /** Known once the create was answered, or once a check found it. */
  id?: string
  state: Certainty
  /** Whether it must be running: set by an answered start, stop or kill; undefined when a kill cut the call. */
  running: boolean | undefined
  image: string
  volume?: string
  network?: string
  publishes: boolean
}

export interface ObjectModel {
  state: Certainty
}

/** What the workers share: the client of the daemon's current life, and the round's stop flag. */
export interface WorkloadContext {
  client(): EngineClient
  /** Set just before the kill: calls failing from then on were cut by it. */
  stopping(): boolean
  /** `127.0.0.1:PORT` of the registry the run pulls from and pushes to. */
  registry: string
  /** A saved image per worker (`torture/w<N>-load:1`), loaded by the `load` operation. */
  loadTars: Buffer[]
  violation(what: string): void
}

export const LOOP_COMMAND = ['sh', '-c', "trap 'exit 0' TERM; i=0; while :; do echo line $i; i=$((i+1)); sleep 0.2; done"]

type Op = { name: string; weight: number; run: () => Promise<void> } | undefined

/** Objects every worker acts on at once: their races are judged by the daemon's answers and the host, not a model. */
const SHARED = { containers: ['torture-shared-0', 'torture-shared-1', 'torture-shared-2'], volume: 'torture-shared-v', network: 'torture-shared-n', image: 'torture/shared:1' }

/** A build context whose RUN step is unique to the build, so that every build runs a container. */
async function buildContext(worker: number, serial: number): Promise<Readable> {
  const p = pack()
  p.entry({ name: 'Dockerfile' }, `FROM busybox:latest\nRUN echo worker ${worker} build ${serial} > /built\nCMD ["cat", "/built"]\n`)
  p.finalize()
  const chunks: Buffer[] = []
  for await (const c of p) chunks.push(c as Buffer)
  return Readable.from([Buffer.concat(chunks)])
}

/**
 * One worker: its own containers, images, volumes and networks, modelled; and, besides, calls on the shared objects
 * that every worker makes, where any answer but a server error is allowed.
 */
export class Worker {
  readonly containers = new Map<string, ContainerModel>()
  /** Image references this worker made (commit, pull, load); the shared busybox is never removed. */
  readonly images = new Map<string, ObjectModel>()
  readonly volumes = new Map<string, ObjectModel>()
  readonly networks = new Map<string, ObjectModel>()
  readonly counts: Record<string, number> = {}
  #serial = 0
  readonly n: number
  readonly random: () => number
  readonly ctx: WorkloadContext

  constructor(n: number, random: () => number, ctx: WorkloadContext) {
    this.n = n
    this.random = random
    this.ctx = ctx
  }

  get pullRef(): string {
    return `${this.ctx.registry}/torture/w${this.n}-base:1`
  }

  get loadRef(): string {
    return `torture/w${this.n}-load:1`
  }

  async run(): Promise<void> {
    while (!this.ctx.stopping()) await this.step()
  }

  #pick<T>(items: T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.random() * items.length)]
  }

  #present<T extends ObjectModel | ContainerModel>(m: Map<string, T>): Array<[string, T]> {
    return [...m].filter(([, v]) => v.state === 'present')
  }

  async step(): Promise<void> {
    const ops = this.#operations().filter((o): o is NonNullable<Op> => o !== undefined)
    let r = this.random() * ops.reduce((s, o) => s + o.weight, 0)
    const op = ops.find((o) => (r -= o.weight) < 0) ?? ops[0]!
    this.counts[op.name] = (this.counts[op.name] ?? 0) + 1
    await op.run()
  }

  /**
   * Runs one call. `ok` records what its answer means; `refused` (a 4xx the call may meet, such as 409 for an
   * image in use) leaves the model as it was. A failure while the kill is coming leaves `cut` to mark what is now
   * unknown; any other failure is a violation.
   */
  async #call<T>(what: string, call: () => Promise<T>, handlers: { ok: (v: T) => void; cut: () => void; refused?: (err: ApiError) => boolean }): Promise<void> {
    let value: T
    try {
      value = await call()
    } catch (err) {
      if (this.ctx.stopping()) return handlers.cut()
      if (err instanceof ApiError && err.status < 500 && handlers.refused?.(err)) return
      this.ctx.violation(`worker ${this.n}: ${what} failed: ${err instanceof ApiError ? `${err.status} ` : ''}${(err as Error).message}`)
      return handlers.cut()
    }
    handlers.ok(value)
  }

  /** One call on the shared objects, racing the other workers': a refusal (4xx) is a fine answer, a 5xx is not. */
  async #shared(client: EngineClient): Promise<void> {
    const name = this.#pick(SHARED.containers)!
    const calls: Array<[string, () => Promise<unknown>]> = [
      [`create ${name}`, () => client.containers.create({ Image: 'busybox:latest', Cmd: LOOP_COMMAND, HostConfig: { NetworkMode: this.random() < 0.5 ? SHARED.network : 'bridge', Binds: [`${SHARED.volume}:/data`] } }, { name })],
      [`start ${name}`, () => client.containers.start(name)],
      [`stop ${name}`, () => client.containers.stop(name, { t: 1 })],
      [`rm -f ${name}`, () => client.containers.remove(name, { force: true })],
      [`commit ${name}`, () => client.images.commit(name, { repo: SHARED.image.split(':')[0]!, tag: SHARED.image.split(':')[1]! })],
      [`rmi ${SHARED.image}`, () => client.images.remove(SHARED.image)],
      [`network create ${SHARED.network}`, () => client.networks.create({ Name: SHARED.network })],
      [`network rm ${SHARED.network}`, () => client.networks.remove(SHARED.network)],
      [`network connect ${name}`, () => client.networks.connect(SHARED.network, name)],
      [`network disconnect ${name}`, () => client.networks.disconnect(SHARED.network, name, { force: true })],
      [`volume create ${SHARED.volume}`, () => client.volumes.create({ Name: SHARED.volume })],
      [`volume rm ${SHARED.volume}`, () => client.volumes.remove(SHARED.volume)],
    ]
    const [what, call] = this.#pick(calls)!
    await this.#call(`shared: ${what}`, call, { ok: () => {}, cut: () => {}, refused: () => true })
  }

  #operations(): Op[] {
    const client = this.ctx.client()
    const containers = this.#present(this.containers).map(([, c]) => c)
    const running = containers.filter((c) => c.running === true)
    const stopped = containers.filter((c) => c.running !== true)
    const images = this.#present(this.images).map(([ref]) => ref)
    const volumes = this.#present(this.volumes).map(([name]) => name)
    const networks = this.#present(this.networks).map(([name]) => name)
    const uses = (ref: string): boolean => [...this.containers.values()].some((c) => c.state !== 'absent' && c.image === ref)
    const inUse = (err: ApiError): boolean => err.status === 409
    const next = (): number => ++this.#serial

    return [
      containers.length < 4
        ? {
            name: 'create',
            weight: 3,
            run: async () => {
              const image = this.random() < 0.7 ? 'busybox:latest' : (this.#pick(images) ?? 'busybox:latest')
              const volume = this.random() < 0.3 ? this.#pick(volumes) : undefined
              const network = this.random() < 0.3 ? this.#pick(networks) : undefined
              const publishes = network === undefined && this.random() < 0.3
              const c: ContainerModel = { name: `torture-w${this.n}-${next()}`, state: 'unknown', running: false, image, publishes, ...(volume ? { volume } : {}), ...(network ? { network } : {}) }
              this.containers.set(c.name, c)
              await this.#call(
                `create ${c.name}`,
                () =>
                  client.containers.create(
                    {
                      Image: image,
                      Cmd: LOOP_COMMAND,
                      ...(publishes ? { ExposedPorts: { '80/tcp': {} } } : {}),
                      HostConfig: {
                        NetworkMode: network ?? (this.random() < 0.5 ? 'bridge' : 'none'),
                        ...(volume ? { Binds: [`${volume}:/data`] } : {}),
                        ...(publishes ? { NetworkMode: 'bridge', PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } } : {}),
                      },
                    },
                    { name: c.name },
                  ),
                { ok: (r) => Object.assign(c, { id: r.Id, state: 'present' }), cut: () => (c.running = undefined) },
              )
            },
          }
        : undefined,
      stopped.length > 0
        ? {
            name: 'start',
            weight: 3,
            run: async () => {
              const c = this.#pick(stopped)!
              // As Docker's, a network can be removed under a container that does not run, which then cannot start.
              const networkGone = (e: ApiError): boolean => e.status === 404 && c.network !== undefined && e.message.includes(c.network)
              await this.#call(`start ${c.name}`, () => client.containers.start(c.id!), { ok: () => (c.running = true), cut: () => (c.running = undefined), refused: networkGone })
            },
          }
        : undefined,
      running.length > 0
        ? {
            name: 'exec',
            weight: 2,
            run: async () => {
              const c = this.#pick(running)!
              await this.#call(
                `exec in ${c.name}`,
                async () => {
                  const { Id } = await client.execs.create(c.id!, { Cmd: ['echo', 'exec-ok'], AttachStdout: true, AttachStderr: true })
                  const { output } = await client.execs.start(Id)
                  let text = ''
                  for await (const chunk of output) text += chunk.data.toString()
                  return text
                },
                { ok: (text) => text.trim() !== 'exec-ok' && !this.ctx.stopping() && this.ctx.violation(`worker ${this.n}: exec in ${c.name} printed ${JSON.stringify(text)}`), cut: () => {} },
              )
            },
          }
        : undefined,
      running.length > 0
        ? {
            name: 'stop',
            weight: 2,
            run: async () => {
              const c = this.#pick(running)!
              await this.#call(`stop ${c.name}`, () => client.containers.stop(c.id!, { t: 2 }), { ok: () => (c.running = false), cut: () => (c.running = undefined) })
            },
          }
        : undefined,
      running.length > 0
        ? {
            name: 'kill',
            weight: 1,
            run: async () => {
              const c = this.#pick(running)!
              await this.#call(`kill ${c.name}`, () => client.containers.kill(c.id!), { ok: () => (c.running = false), cut: () => (c.running = undefined) })
            },
          }
        : undefined,
      containers.length > 0
        ? {
            name: 'rm',
            weight: 2,
            run: async () => {
              const c = this.#pick(containers)!
              c.state = 'unknown'
              await this.#call(`rm -f ${c.name}`, () => client.containers.remove(c.id!, { force: true }), { ok: () => Object.assign(c, { state: 'absent', running: false }), cut: () => (c.running = undefined) })
            },
          }
        : undefined,
      containers.length > 0
        ? {
            name: 'logs',
            weight: 1,
            run: async () => {
              const c = this.#pick(containers)!
              await this.#call(
                `logs ${c.name}`,
                async () => {
                  let text = ''
                  for await (const chunk of await client.containers.logs(c.id!, { tail: '5' })) text += chunk.data.toString()
                  return text
                },
                { ok: (text) => text !== '' && !/^(line \d+\n)+$/.test(text) && this.ctx.violation(`worker ${this.n}: logs of ${c.name}: ${JSON.stringify(text.slice(0, 200))}`), cut: () => {} },
              )
            },
          }
        : undefined,
      containers.length > 0 && images.length < 4
        ? {
            name: 'commit',
            weight: 1,
            run: async () => {
              const c = this.#pick(containers)!
              const ref = `${this.ctx.registry}/torture/w${this.n}-c:${next()}`
              const model: ObjectModel = { state: 'unknown' }
              this.images.set(ref, model)
              const [repo, tag] = [ref.slice(0, ref.lastIndexOf(':')), ref.slice(ref.lastIndexOf(':') + 1)]
              await this.#call(`commit ${c.name}`, () => client.images.commit(c.id!, { repo, tag }), { ok: () => (model.state = 'present'), cut: () => {} })
            },
          }
        : undefined,
      images.some((i) => !uses(i))
        ? {
            name: 'rmi',
            weight: 1,
            run: async () => {
              const ref = this.#pick(images.filter((i) => !uses(i)))!
              const model = this.images.get(ref)!
              model.state = 'unknown'
              await this.#call(`rmi ${ref}`, () => client.images.remove(ref), { ok: () => (model.state = 'absent'), cut: () => {}, refused: (e) => inUse(e) && ((model.state = 'present'), true) })
            },
          }
        : undefined,
      {
        name: 'load',
        weight: 1,
        run: async () => {
          const model = this.images.get(this.loadRef) ?? { state: 'unknown' as Certainty }
          if (model.state !== 'present') model.state = 'unknown'
          this.images.set(this.loadRef, model)
          await this.#call(
            'load',
            async () => {
              const messages = await client.images.load(Readable.from([this.ctx.loadTars[this.n]!]), { quiet: true })
              const failed = messages.find((m) => m.error || m.errorDetail)
              if (failed) throw new Error(`load: ${failed.error ?? failed.errorDetail?.message}`)
            },
            { ok: () => (model.state = 'present'), cut: () => {} },
          )
        },
      },
      {
        name: 'pull',
        weight: 1,
        run: async () => {
          const model = this.images.get(this.pullRef) ?? { state: 'unknown' as Certainty }
          if (model.state !== 'present') model.state = 'unknown'
          this.images.set(this.pullRef, model)
          await this.#call(
            'pull',
            async () => {
              for await (const m of await client.images.pull(this.pullRef.slice(0, this.pullRef.lastIndexOf(':')), { tag: '1' })) {
                if (m.error || m.errorDetail) throw new Error(`pull: ${m.error ?? m.errorDetail?.message}`)
              }
            },
            { ok: () => (model.state = 'present'), cut: () => {} },
          )
        },
      },
      images.some((i) => i.includes(`/torture/w${this.n}-c:`))
        ? {
            name: 'push',
            weight: 1,
            run: async () => {
              const ref = this.#pick(images.filter((i) => i.includes(`/torture/w${this.n}-c:`)))!
              await this.#call(
                `push ${ref}`,
                async () => {
                  for await (const m of await client.images.push(ref)) if (m.error || m.errorDetail) throw new Error(`push: ${m.error ?? m.errorDetail?.message}`)
                },
                { ok: () => {}, cut: () => {} },
              )
            },
          }
        : undefined,
      images.length < 4
        ? {
            name: 'build',
            weight: 1,
            run: async () => {
              const serial = next()
              const ref = `torture/w${this.n}-b:${serial}`
              const model: ObjectModel = { state: 'unknown' }
              this.images.set(ref, model)
              await this.#call(
                `build ${ref}`,
                async () => {
                  for await (const m of await client.images.build(await buildContext(this.n, serial), { t: ref, rm: true, networkmode: 'none' })) {
                    if (m.error || m.errorDetail) throw new Error(`build: ${m.error ?? m.errorDetail?.message}`)
                  }
                },
                { ok: () => (model.state = 'present'), cut: () => {} },
              )
            },
          }
        : undefined,
      { name: 'shared', weight: 3, run: () => this.#shared(client) },
      volumes.length < 3
        ? {
            name: 'volume create',
            weight: 1,
            run: async () => {
              const name = `torture-w${this.n}-v${next()}`
              const model: ObjectModel = { state: 'unknown' }
              this.volumes.set(name, model)
              await this.#call(`volume create ${name}`, () => client.volumes.create({ Name: name }), { ok: () => (model.state = 'present'), cut: () => {} })
            },
          }
        : undefined,
      volumes.length > 0
        ? {
            name: 'volume rm',
            weight: 1,
            run: async () => {
              const name = this.#pick(volumes)!
              const model = this.volumes.get(name)!
              model.state = 'unknown'
              await this.#call(`volume rm ${name}`, () => client.volumes.remove(name), { ok: () => (model.state = 'absent'), cut: () => {}, refused: (e) => inUse(e) && ((model.state = 'present'), true) })
            },
          }
        : undefined,
      networks.length < 2
        ? {
            name: 'network create',
            weight: 1,
            run: async () => {
              const name = `torture-w${this.n}-n${next()}`
              const model: ObjectModel = { state: 'unknown' }
              this.networks.set(name, model)
              await this.#call(`network create ${name}`, () => client.networks.create({ Name: name }), { ok: () => (model.state = 'present'), cut: () => {} })
            },
          }
        : undefined,
      networks.length > 0
        ? {
            name: 'network rm',
            weight: 1,
            run: async () => {
              const name = this.#pick(networks)!
              const model = this.networks.get(name)!
              model.state = 'unknown'
              await this.#call(`network rm ${name}`, () => client.networks.remove(name), {
                ok: () => (model.state = 'absent'),
                cut: () => {},
                refused: (e) => (e.status === 403 || inUse(e)) && ((model.state = 'present'), true),
              })
            },
          }
        : undefined,
    ]
  }
}
