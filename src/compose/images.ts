import type { EngineClient } from '../client/engine-client.ts'
import { ApiError } from '../client/http.ts'
import { prepareContext } from '../lib/build-context.ts'
import { splitImageName } from '../lib/image-name.ts'
import { ComposeError } from './errors.ts'
import type { Project, PullPolicy, ServiceConfig } from './model.ts'
import type { Report } from './report.ts'

/** The image a service runs: its `image`, or `PROJECT-SERVICE` for a service that only builds. */
export const imageOf = (project: Project, s: ServiceConfig): string => s.image ?? `${project.name}-${s.name}`

export async function imagePresent(client: EngineClient, image: string): Promise<boolean> {
  return client.images.inspect(image).then(
    () => true,
    (err: unknown) => {
      if (err instanceof ApiError && err.status === 404) return false
      throw err
    },
  )
}

/**
 * Makes a service's image present as its pull policy (or `--pull`) says: built when it has a `build` and is missing
 * or `--build`/`pull_policy: build`; pulled when missing, or always with `always`; `never` refuses a missing one.
 */
export async function ensureImage(
  client: EngineClient,
  project: Project,
  s: ServiceConfig,
  opts: { build: boolean; noBuild?: boolean; pull?: PullPolicy | undefined; dryRun?: boolean },
  report: Report,
): Promise<string> {
  const image = imageOf(project, s)
  const present = await imagePresent(client, image)
  const policy = opts.pull ?? s.pull_policy ?? 'missing'
  if (s.build && !opts.noBuild && (opts.build || policy === 'build' || (!present && policy !== 'always'))) {
    if (opts.dryRun) report(`Service ${s.name}  Building`)
    else await buildService(client, s, image, report)
    return image
  }
  if (policy === 'always' || (!present && policy !== 'never')) await pullImage(client, s.name, image, report, opts.dryRun ?? false)
  else if (!present) throw new ComposeError(`service "${s.name}": image ${image} is missing and its pull policy is never`)
  return image
}

export async function pullImage(client: EngineClient, service: string, image: string, report: Report, dryRun = false): Promise<void> {
  report(`${service} Pulling`)
  if (dryRun) return
  const { image: name, tag } = splitImageName(image)
  const failed = (message: string): ComposeError => new ComposeError(`service "${service}": pull of ${image} failed: ${message}`)
  try {
    const stream = await client.images.pull(name, { tag: tag ?? 'latest' })
    for await (const m of stream) if (m.errorDetail || m.error) throw failed(m.errorDetail?.message ?? m.error ?? '')
  } catch (err) {
    if (err instanceof ApiError) throw failed(err.message)
    throw err
  }
  report(`${service} Pulled`)
}

export async function pushImage(client: EngineClient, service: string, image: string, report: Report): Promise<void> {
  report(`Pushing ${service}: ${image}`)
  const { image: name, tag } = splitImageName(image)
  const failed = (message: string): ComposeError => new ComposeError(`service "${service}": push of ${image} failed: ${message}`)
  try {
    const stream = await client.images.push(name, { tag: tag ?? 'latest' })
    for await (const m of stream) if (m.errorDetail || m.error) throw failed(m.errorDetail?.message ?? m.error ?? '')
  } catch (err) {
    if (err instanceof ApiError) throw failed(err.message)
    throw err
  }
  report(`Pushed ${service}: ${image}`)
}

/** `build:` through the engine's `/build`, as `docker compose build` does with the classic builder. */
export async function buildService(client: EngineClient, s: ServiceConfig, image: string, report: Report, opts: { noCache?: boolean; pull?: boolean } = {}): Promise<void> {
  const b = s.build!
  report(`Service ${s.name}  Building`)
  const ctx = await prepareContext(b.context, b.dockerfile ? (b.dockerfile.startsWith('/') ? b.dockerfile : `${b.context}/${b.dockerfile}`) : undefined, process.stdin)
  try {
    const messages = await client.images.build(ctx.tar, {
      t: [image],
      dockerfile: ctx.dockerfile,
      buildargs: JSON.stringify(b.args),
      target: b.target,
      nocache: opts.noCache || undefined,
      pull: opts.pull || undefined,
    })
    for await (const m of messages) {
      if (m.errorDetail || m.error) throw new ComposeError(`failed to build service "${s.name}": ${m.errorDetail?.message ?? m.error}`)
    }
  } finally {
    await ctx.cleanup()
  }
  report(`Service ${s.name}  Built`)
}
