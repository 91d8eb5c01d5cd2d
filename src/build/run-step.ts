import { cp, mkdtemp, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Digest } from '../content/digest.ts'
import { packContainerLayer } from '../containers/commit.ts'
import { entryText } from '../containers/logs.ts'
import type { NewLayer } from '../images/service.ts'
import { CaisError, invalid } from '../lib/errors.ts'
import { shortId } from '../lib/ids.ts'
import { commitStep } from './commit-step.ts'
import { cleanContextPath } from './context.ts'
import { hashSources, resolveSources } from './copy.ts'
import { type Instruction, parseJsonForm } from './dockerfile/parser.ts'
import { type RunMount, parseRunMount, removeMountPoints, secretFile } from './run-mounts.ts'
import { BUILD_LABEL, type BuilderDeps, DEFAULT_SHELL, type Lease, type StageState, type StepEnv, ensureImage } from './state.ts'

/** A RUN whose command exited non-zero: the build stops with its code (the docker CLI exits with it). */
export class RunFailed extends CaisError {
  readonly exitCode: number
  constructor(argv: readonly string[], exitCode: number) {
    super('invalid', `The command '${argv.join(' ')}' returned a non-zero code: ${exitCode}`)
    this.exitCode = exitCode
  }
}

/** RUN: the command in a container on the stage's image; its writable layer becomes the step's layer. */
export async function runStep(state: StageState, instr: Instruction, env: StepEnv, args: Array<[string, string]>): Promise<void> {
  const runtime = state.config.config ?? {}
  const shell = runtime.Shell ?? DEFAULT_SHELL
  let network: string | undefined
  const mounts: RunMount[] = []
  for (const f of instr.flags) {
    if (f.name === 'mount') mounts.push(parseRunMount(f.value ?? '', runtime.WorkingDir ?? '/'))
    else if (f.name === 'network') {
      if (!['default', 'none', 'host'].includes(f.value ?? '')) throw invalid(`unsupported network mode ${f.value ?? ''}: default, none or host`)
      network = f.value === 'default' ? undefined : f.value
    } else if (f.name === 'security') {
      if (f.value !== 'sandbox') throw invalid('RUN --security=insecure is not allowed: cais runs build steps unprivileged')
    } else throw invalid(`unknown flag: --${f.name}`)
  }
  const argv = commandOf(instr, shell)
  const argText = args.length > 0 ? `|${args.length} ${args.map(([k, v]) => `${k}=${v}`).join(' ')} ` : ''
  const createdBy = `${argText}${argv.join(' ')}`
  const mountKey = await mountsKey(mounts, env, state)
  await commitStep(state, env, createdBy, `${network ?? ''}\n${mountKey}`, {
    layer: (lease) => runContainer(state, argv, env, { args, mounts, network: network ?? env.req.networkMode }, lease),
  })
}

/** The argv of a RUN: exec form as written; shell form in the stage's shell, a lone here-document as the script. */
function commandOf(instr: Instruction, shell: readonly string[]): string[] {
  const json = parseJsonForm(instr.rest)
  if (json && instr.heredocs.length === 0) return json
  if (instr.heredocs.length === 0) return [...shell, instr.rest]
  const only = /^<<-?(["']?)([A-Za-z_][A-Za-z0-9_]*)\1$/.exec(instr.rest.trim())
  if (only && instr.heredocs.length === 1) {
    const script = instr.heredocs[0]!.content
    const shebang = /^#!\s*(\S+)(.*)\n/.exec(script)
    // A script with its own interpreter runs in it; the interpreter reads the script from its -c argument or stdin.
    if (shebang) return [shebang[1]!, ...shebang[2]!.trim().split(/\s+/).filter((a) => a !== ''), '-c', script.slice(shebang[0].length)]
    return [...shell, script]
  }
  // The shell runs here-documents itself: the command with their bodies and terminators, as written.
  return [...shell, `${instr.rest}\n${instr.heredocs.map((h) => `${h.content}${h.name}`).join('\n')}`]
}

/** What a RUN's mounts add to its cache key: the content a bind mount shows, the id of a cache. */
async function mountsKey(mounts: readonly RunMount[], env: StepEnv, state: StageState): Promise<string> {
  const parts: string[] = []
  for (const m of mounts) {
    if (m.type === 'bind') {
      if (m.from) {
        const source = await sourceImage(m.from, env, state)
        parts.push(`bind ${m.target} ${source.id} ${m.source} ${m.rw}`)
      } else {
        const sources = await resolveSources(env.req.context.dir, cleanContextPath(m.source) || '.', 'build context')
        parts.push(`bind ${m.target} ${await hashSources(sources, undefined, env.req.context.digests)} ${m.rw}`)
      }
    } else if (m.type === 'secret') parts.push(`secret ${m.id} ${m.target} ${m.env ?? ''}`)
    else parts.push(JSON.stringify(m))
  }
  return parts.join('\n')
}

interface RunOptions {
  args: Array<[string, string]>
  mounts: readonly RunMount[]
  network: string | undefined
}

async function runContainer(state: StageState, argv: string[], env: StepEnv, opts: RunOptions, lease: Lease): Promise<NewLayer> {
  const { req, deps, signal } = env
  const imageId = await ensureImage(state, env)
  const runtime = state.config.config ?? {}
  const configEnv = runtime.Env ?? []
  const fromArgs = opts.args.filter(([k]) => !configEnv.some((e) => e.startsWith(`${k}=`))).map(([k, v]) => `${k}=${v}`)
  const scratch = await mkdtemp(join(deps.scratchDir, 'run-'))
  const hostMounts: Array<Record<string, unknown>> = []
  const extraEnv: string[] = []
  const releases: Array<() => void> = []
  const sourceContainers: string[] = []
  let containerId: string | undefined
  let ok = false
  try {
    for (const m of opts.mounts) {
      if (m.type === 'cache') {
        const { dir, release } = await deps.cache.useMount(m, scratch)
        releases.push(release)
        hostMounts.push({ Type: 'bind', Source: dir, Target: m.target, ReadOnly: m.readonly })
      } else if (m.type === 'tmpfs') {
        hostMounts.push({ Type: 'tmpfs', Target: m.target, ...(m.size ? { TmpfsOptions: { SizeBytes: m.size } } : {}) })
      } else if (m.type === 'secret') {
        const source = req.secrets.get(m.id)
        if (!source) {
          if (m.required) throw invalid(`secret ${m.id} not found: it is required (give it with --secret id=${m.id},src=FILE)`)
          continue
        }
        if (m.env) {
          extraEnv.push(`${m.env}=${(await readFile(source, 'utf8')).replace(/\n$/, '')}`)
        }
        if (m.target) hostMounts.push({ Type: 'bind', Source: await secretFile(source, m, scratch), Target: m.target, ReadOnly: true })
      } else if (m.type === 'bind') {
        let root = req.context.dir
        if (m.from) {
          const image = await sourceImage(m.from, env, state)
          const ctr = await deps.containers.create({ Image: image.id, Cmd: ['true'], Entrypoint: [''], Labels: { [BUILD_LABEL]: req.id }, HostConfig: { NetworkMode: 'none' } })
          sourceContainers.push(ctr.Id)
          root = await holdRootfs(ctr.Id, deps, releases)
        }
        const [source] = await resolveSources(root, cleanContextPath(m.source) || '.', m.from ? `stage ${m.from}` : 'build context')
        // A writable bind mount's writes are thrown away, as BuildKit's are: the container writes to a copy.
        let host = source!.host
        if (m.rw) {
          host = join(scratch, `bind-${hostMounts.length}`)
          await cp(source!.host, host, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true })
        }
        hostMounts.push({ Type: 'bind', Source: host, Target: m.target, ReadOnly: !m.rw })
      }
    }
    signal.throwIfAborted()
    const created = await deps.containers.create({
      Image: imageId,
      Cmd: argv,
      Entrypoint: [''],
      Env: [...configEnv, ...fromArgs, ...extraEnv],
      WorkingDir: runtime.WorkingDir ?? '',
      User: runtime.User ?? '',
      Labels: { [BUILD_LABEL]: req.id },
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        ...(opts.network ? { NetworkMode: opts.network } : {}),
        Mounts: hostMounts,
        ...(req.shmSize ? { ShmSize: req.shmSize } : {}),
        ...(req.extraHosts.length > 0 ? { ExtraHosts: req.extraHosts } : {}),
      },
    })
    containerId = created.Id
    state.send({ stream: ` ---> Running in ${shortId(containerId)}\n` })
    const output = await deps.containers.attachOutput(containerId, { logs: false, stream: true })
    const exit = deps.containers.wait(containerId, 'next-exit')
    const pump = (async () => {
      for await (const batch of output.entries) for (const e of batch) state.send({ stream: entryText(e).toString() })
    })()
    const id = containerId
    const kill = (): void => void deps.containers.kill(id).catch(() => {})
    signal.addEventListener('abort', kill, { once: true })
    try {
      await deps.containers.start(containerId)
      // An abort while the start was under way found nothing running to kill.
      if (signal.aborted) kill()
      const { StatusCode } = await exit
      await pump
      signal.throwIfAborted()
      if (StatusCode !== 0) throw new RunFailed(argv, StatusCode)
    } finally {
      signal.removeEventListener('abort', kill)
    }
    const { upper, lowers } = deps.containers.layersOf(containerId)
    await removeMountPoints(upper, lowers, hostMounts.map((m) => m['Target'] as string))
    const layer = await packContainerLayer(upper, imageId, lease, deps, { ...(env.epoch ? { clampMtime: env.epoch } : {}) })
    ok = true
    return layer
  } finally {
    for (const release of releases.reverse()) release()
    for (const id of sourceContainers) await deps.containers.remove(id, { force: true }).catch(() => {})
    if (containerId && (!ok || !req.keepContainers)) {
      await deps.containers.remove(containerId, { force: true }).catch(() => {})
      if (ok) state.send({ stream: `Removing intermediate container ${shortId(containerId)}\n` })
    }
    await rm(scratch, { recursive: true, force: true })
  }
}

/** Mounts a container's rootfs until the step releases it; returns the mount. */
async function holdRootfs(containerId: string, deps: BuilderDeps, releases: Array<() => void>): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    deps.containers
      .withRootfs(containerId, async (root) => {
        resolve(root)
        await held
      })
      .catch(reject)
    releases.push(release)
  })
}

/** The image a `--from` names: an earlier stage's result, or an image (pulled when missing). */
export async function sourceImage(ref: string, env: StepEnv, state: StageState): Promise<{ id: Digest }> {
  const stage = await env.stageResult(ref, state.stage.index)
  if (stage) return { id: await ensureImage(stage, env) }
  try {
    return { id: env.deps.images.resolve(ref).id }
  } catch {
    await env.deps.pull(ref, env.req.platform, state.send, env.signal)
    return { id: env.deps.images.resolve(ref).id }
  }
}

