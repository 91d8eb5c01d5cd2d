import { arch } from 'node:os'
import type { Digest } from '../content/digest.ts'
import { familiarString, formatReference, parseReference, withDefaultTag } from '../images/reference.ts'
import type { NewLayer } from '../images/service.ts'
import type { ImageConfig, ImageRuntimeConfig } from '../images/types.ts'
import { CaisError, invalid } from '../lib/errors.ts'
import { shortId } from '../lib/ids.ts'
import { parsePlatform } from '../lib/platform.ts'
import { commitStep } from './commit-step.ts'
import { copyStep } from './copy-step.ts'
import { type Instruction, parseDockerfile } from './dockerfile/parser.ts'
import { type Lookup, expandPairs } from './dockerfile/shell-words.ts'
import { METADATA, applyMetadata } from './instructions.ts'
import type { BuildRequest, BuildResult } from './request.ts'
import { runStep } from './run-step.ts'
import { StageOutput } from './stage-output.ts'
import { type Stage, neededStages, planStages, stageNamed } from './stages.ts'
import { type BuilderDeps, DEFAULT_SHELL, type StageState, type StepEnv, ensureImage } from './state.ts'

/** Build arguments every Dockerfile may use without declaring them; they never reach the history. */
const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']

/**
 * Runs a Dockerfile build: the stages the target needs (independent ones in parallel), each instruction a
 * step whose result is an image and a cache entry, RUN in a real container, COPY and ADD into a created one.
 */
export async function build(req: BuildRequest, deps: BuilderDeps): Promise<BuildResult> {
  const df = parseDockerfile(req.context.dockerfile, req.context.dockerfilePath || 'Dockerfile')
  for (const w of df.warnings) req.send({ stream: `[Warning] ${w}\n` })
  const platformArgs = platformArgsFor(req.platform)
  const consumed = new Set<string>()
  const buildArg = (name: string): string | undefined => {
    const v = req.buildArgs[name]
    return v === null ? undefined : v
  }

  const globals = new Map<string, string | undefined>(Object.entries(platformArgs))
  const globalLookup = (declared: Instruction[]): Lookup => {
    globals.clear()
    for (const [k, v] of Object.entries(platformArgs)) globals.set(k, v)
    for (const instr of declared) {
      for (const [name, dflt] of expandPairs(instr.rest, (n) => globals.get(n), df.escape, { valueRequired: false, instruction: 'ARG' })) {
        consumed.add(name)
        globals.set(name, buildArg(name) ?? dflt)
      }
    }
    return (n) => globals.get(n)
  }
  const plan = planStages(df, globalLookup)
  globalLookup(plan.globalArgs)
  const globalValues = new Map(globals)

  const stageDeps = (s: Stage): string[] => [
    s.base,
    ...s.instructions.flatMap((i) => i.flags.filter((f) => f.name === 'from').map((f) => f.value ?? '')),
    ...s.instructions.flatMap((i) => i.flags.filter((f) => f.name === 'mount').map((f) => /(?:^|,)from=([^,]+)/.exec(f.value ?? '')?.[1] ?? '')),
  ].filter((d) => d !== '')
  const stages = neededStages(plan, req.target, stageDeps)
  const labelStep = labelInstruction(req.labels, stages.at(-1)!)
  const total = stages.reduce((n, s) => n + 1 + s.instructions.length, 0) + (labelStep ? 1 : 0)
  const firstStep = new Map<number, number>()
  let counter = 1
  for (const s of stages) {
    firstStep.set(s.index, counter)
    counter += 1 + s.instructions.length
  }

  const epochArg = buildArg('SOURCE_DATE_EPOCH')
  const epoch = epochArg !== undefined && /^\d+$/.test(epochArg) ? new Date(Number(epochArg) * 1000) : undefined
  const abort = new AbortController()
  const onAbort = (): void => abort.abort(req.signal.reason)
  req.signal.addEventListener('abort', onAbort, { once: true })
  const env: StepEnv = { req, deps, escape: df.escape, epoch, signal: abort.signal, stageResult: async () => undefined }
  const results = new Map<number, Promise<StageState>>()
  const runStage = (stage: Stage): Promise<StageState> => {
    let p = results.get(stage.index)
    if (!p) {
      p = buildStage(stage, firstStep.get(stage.index)!, total, stage === stages.at(-1) ? labelStep : undefined)
      results.set(stage.index, p)
      // The stage that fails first stops the others.
      p.catch((err: unknown) => abort.abort(err))
    }
    return p
  }
  env.stageResult = async (ref: string, before: number) => {
    const s = stageNamed(plan.stages, ref, before)
    if (!s) return undefined
    if (!stages.includes(s)) throw new Error(`stage ${ref} was not planned`)
    return runStage(s)
  }

  const output = new StageOutput(stages.map((s) => s.index), req.send)
  const buildStage = async (stage: Stage, step: number, of: number, extra: Instruction | undefined): Promise<StageState> => {
    const send = output.sendFor(stage.index)
    try {
      return await buildStageSteps(stage, step, of, extra, send)
    } finally {
      output.finish(stage.index)
    }
  }
  const buildStageSteps = async (stage: Stage, step: number, of: number, extra: Instruction | undefined, send: StageState['send']): Promise<StageState> => {
    send({ stream: `Step ${step}/${of} : ${stage.from.original}\n` })
    const state = await baseState(stage, env, send)
    if (state.imageId) send({ stream: ` ---> ${shortId(state.imageId)}\n` })
    const instructions = [...stage.instructions, ...(extra ? [extra] : [])]
    // Triggers a base image left with ONBUILD run first; the new image does not inherit them.
    const triggers = state.config.config?.OnBuild ?? []
    if (triggers.length > 0) {
      send({ stream: `# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n` })
      state.config = { ...state.config, config: { ...state.config.config, OnBuild: null } }
      for (const t of triggers) {
        for (const instr of parseDockerfile(t, `ONBUILD trigger`).instructions) await runInstruction(state, instr)
      }
    }
    let n = step + 1
    for (const instr of instructions) {
      abort.signal.throwIfAborted()
      send({ stream: `Step ${n++}/${of} : ${instr.original}\n` })
      await runInstruction(state, instr)
      if (state.imageId) send({ stream: ` ---> ${shortId(state.imageId)}\n` })
    }
    return state
  }

  const lookupIn = (state: StageState): Lookup => (name) => {
    const fromEnv = state.config.config?.Env?.find((e) => e.startsWith(`${name}=`))
    if (fromEnv !== undefined) return fromEnv.slice(name.length + 1)
    return state.args.has(name) ? state.args.get(name) : undefined
  }

  const runInstruction = async (state: StageState, instr: Instruction): Promise<void> => {
    try {
      await dispatch(state, instr)
    } catch (err) {
      if (err instanceof CaisError && !/^The command|line \d+/.test(err.message) && err.kind === 'invalid') {
        const named = err.message.startsWith(`${instr.keyword} `) ? err.message : `${instr.keyword}: ${err.message}`
        throw new CaisError(err.kind, `${req.context.dockerfilePath || 'Dockerfile'}:${instr.line}: ${named}`, { cause: err })
      }
      throw err
    }
  }

  const dispatch = async (state: StageState, instr: Instruction): Promise<void> => {
    const lookup = lookupIn(state)
    if (instr.keyword === 'ARG') {
      for (const f of instr.flags) throw invalid(`unknown flag: --${f.name}`)
      for (const [name, dflt] of expandPairs(instr.rest, lookup, df.escape, { valueRequired: false, instruction: 'ARG' })) {
        consumed.add(name)
        const value = buildArg(name) ?? dflt ?? (name in platformArgs ? platformArgs[name] : globalValues.get(name))
        state.args.set(name, value)
      }
      return
    }
    if (METADATA.has(instr.keyword)) {
      const runtime: ImageRuntimeConfig = structuredClone(state.config.config ?? {})
      const image = { ...state.config }
      const text = applyMetadata(image, runtime, instr, { lookup, escape: df.escape, shell: runtime.Shell ?? DEFAULT_SHELL, cmdSet: state.cmdSet })
      if (instr.keyword === 'CMD') state.cmdSet = true
      const shell = state.config.config?.Shell ?? DEFAULT_SHELL
      await commitStep(state, env, `${shell.join(' ')} #(nop)  ${text}`, '', { config: { ...image, config: runtime } })
      return
    }
    if (instr.keyword === 'RUN') {
      await runStep(state, instr, env, runArgsOf(state))
      return
    }
    if (instr.keyword === 'COPY' || instr.keyword === 'ADD') {
      await copyStep(state, instr, env, lookup)
      return
    }
    throw invalid(`${instr.keyword} is not allowed here`)
  }

  /** Build arguments a RUN sees: its stage's declared ones with values, and proxies that were given. */
  const runArgsOf = (state: StageState): Array<[string, string]> => {
    const out: Array<[string, string]> = []
    for (const [k, v] of state.args) if (v !== undefined) out.push([k, v])
    for (const k of PROXY_ARGS) {
      const v = buildArg(k)
      if (v !== undefined && !state.args.has(k)) out.push([k, v])
    }
    return out
  }

  try {
    const finals = await Promise.all(stages.map(runStage))
    const final = finals.at(-1)!
    const imageId = await ensureImage(final, env)
    const unused = Object.keys(req.buildArgs).filter((k) => !consumed.has(k) && !PROXY_ARGS.includes(k) && k !== 'SOURCE_DATE_EPOCH')
    if (unused.length > 0) req.send({ stream: `[Warning] One or more build-args [${unused.sort().join(' ')}] were not consumed\n` })
    const tags: string[] = []
    for (const t of req.tags) {
      const ref = formatReference(withDefaultTag(parseReference(t)))
      await deps.images.tag(imageId, ref)
      tags.push(familiarString(parseReference(ref)))
    }
    return { imageId, tags }
  } catch (err) {
    abort.abort(err)
    // Let every stage finish its cleanup before the build answers.
    await Promise.allSettled(results.values())
    throw err
  } finally {
    req.signal.removeEventListener('abort', onAbort)
  }
}

/** The state a stage starts from: an empty one (`scratch`), an earlier stage's result, or an image. */
async function baseState(stage: Stage, env: StepEnv, send: StageState['send']): Promise<StageState> {
  const { req, deps } = env
  const empty = (config: ImageConfig, layers: NewLayer[], imageId: Digest | undefined): StageState => ({
    stage, imageId, config, layers, args: new Map(), cmdSet: false, send, noCache: req.noCache || req.noCacheFilter.includes(stage.name ?? String(stage.index)),
  })
  const platformText = stage.platform || req.platform
  const platform = platformText ? parsePlatform(platformText) : undefined
  if (stage.base.toLowerCase() === 'scratch') {
    const { os, architecture, variant } = platform ?? { os: 'linux', architecture: goArch() }
    return empty({ architecture, os, ...(variant ? { variant } : {}), config: { Env: [] }, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, [], undefined)
  }
  const from = await env.stageResult(stage.base, stage.index)
  if (from) return { ...empty(structuredClone(from.config), [...from.layers], from.imageId) }
  let id: Digest | undefined
  if (!req.pull) {
    try {
      // A local image for another platform than the one asked for does not do: that platform is pulled.
      id = deps.images.resolveFor(stage.base, platform).id
    } catch {
      id = undefined
    }
  }
  if (!id) {
    await deps.pull(stage.base, platformText, send, env.signal)
    id = deps.images.resolve(stage.base).id
  }
  const config = structuredClone(deps.images.config(id))
  const rec = deps.images.resolve(id)
  const layers = rec.layers.map((blob, i) => ({ blob, diffId: config.rootfs.diff_ids[i]! }))
  return empty(config, layers, id)
}

/** `--label`s become a LABEL step at the end of the target stage, as Docker's legacy builder does. */
function labelInstruction(labels: Record<string, string>, target: Stage): Instruction | undefined {
  const entries = Object.entries(labels)
  if (entries.length === 0) return undefined
  const quote = (s: string): string => `"${s.replace(/[\\"$]/g, '\\$&')}"`
  const rest = entries.map(([k, v]) => `${quote(k)}=${quote(v)}`).join(' ')
  return { keyword: 'LABEL', flags: [], rest, heredocs: [], line: target.from.line, endLine: target.from.line, original: `LABEL ${rest}` }
}

function goArch(): string {
  const a = arch()
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a
}

/** BuildKit's automatic platform arguments, for this host and the requested target platform. */
function platformArgsFor(platform: string | undefined): Record<string, string> {
  const host = `linux/${goArch()}`
  const target = platform || host
  const [tos = 'linux', tarch = goArch(), tvariant = ''] = target.split('/')
  return {
    BUILDPLATFORM: host, BUILDOS: 'linux', BUILDARCH: goArch(), BUILDVARIANT: '',
    TARGETPLATFORM: target, TARGETOS: tos, TARGETARCH: tarch, TARGETVARIANT: tvariant,
  }
}

