import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join, posix } from 'node:path'
import type { Digest } from '../content/digest.ts'
import { packContainerLayer } from '../containers/commit.ts'
import { resolveUser } from '../containers/user.ts'
import type { NewLayer } from '../images/service.ts'
import { IgnoreRules } from '../lib/dockerignore.ts'
import { cloneContext, isGitUrl } from '../lib/git-clone.ts'
import { invalid } from '../lib/errors.ts'
import { commitStep } from './commit-step.ts'
import { cleanContextPath } from './context.ts'
import { type CopySource, copyToRootfs, download, hashSources, isArchive, resolveSources } from './copy.ts'
import { type Instruction, parseJsonForm } from './dockerfile/parser.ts'
import { type Lookup, expandVariables, expandWord, expandWords } from './dockerfile/shell-words.ts'
import { sourceImage } from './run-step.ts'
import { BUILD_LABEL, type Lease, type StageState, type StepEnv, ensureImage } from './state.ts'

/** COPY and ADD: files from the context, a stage, an image, a URL or a here-document, into a new layer. */
export async function copyStep(state: StageState, instr: Instruction, env: StepEnv, lookup: Lookup): Promise<void> {
  const { req, deps } = env
  const isAdd = instr.keyword === 'ADD'
  const allowed = isAdd ? ['chown', 'chmod', 'link', 'exclude', 'checksum', 'keep-git-dir'] : ['from', 'chown', 'chmod', 'link', 'parents', 'exclude']
  const flag = (name: string): string | undefined => instr.flags.find((f) => f.name === name)?.value
  for (const f of instr.flags) if (!allowed.includes(f.name)) throw invalid(`unknown flag: --${f.name}`)
  const checksum = flag('checksum')
  if (checksum !== undefined && !/^sha(256|384|512):[0-9a-f]+$/.test(checksum)) throw invalid(`invalid checksum digest format: ${checksum}`)
  const json = parseJsonForm(instr.rest)
  const words = json ? json.map((w) => expandWord(w, lookup, env.escape)) : expandWords(instr.rest, lookup, env.escape)
  if (words.length < 2) throw invalid(`${instr.keyword} requires at least two arguments, but only ${words.length} were provided. Destination could not be determined`)
  const workdir = state.config.config?.WorkingDir || '/'
  const rawDest = words.at(-1)!
  const dirLike = rawDest.endsWith('/') || rawDest === '.' || rawDest.endsWith('/.')
  const dest = posix.resolve(workdir, rawDest) + (dirLike && posix.resolve(workdir, rawDest) !== '/' ? '/' : '')
  const chown = flag('chown') !== undefined ? expandWord(flag('chown')!, lookup, env.escape) : undefined
  const chmodText = flag('chmod')
  if (chmodText !== undefined && !/^[0-7]{3,4}$/.test(chmodText)) throw invalid(`invalid chmod parameter: ${chmodText}: only octal modes are supported`)
  const mode = chmodText === undefined ? undefined : Number.parseInt(chmodText, 8)
  const excludes = instr.flags.filter((f) => f.name === 'exclude').map((f) => f.value ?? '')
  const excludeRules = excludes.length > 0 ? new IgnoreRules(excludes.join('\n')) : undefined
  const exclude = excludeRules ? (rel: string): boolean => excludeRules.excludes(rel) : undefined
  const parents = flag('parents') !== undefined && flag('parents') !== 'false'
  const from = flag('from')
  const flagText = instr.flags.filter((f) => f.name !== 'link').map((f) => `--${f.name}=${f.value ?? ''} `).join('')

  const scratch = await mkdtemp(join(deps.scratchDir, 'copy-'))
  try {
    const heredocs = new Map(instr.heredocs.map((h) => [h.name, h]))
    const patterns = words.slice(0, -1)
    if (from !== undefined) {
      const source = await sourceImage(expandWord(from, lookup, env.escape), env, state)
      const createdBy = `/bin/sh -c #(nop) COPY ${flagText}${patterns.join(' ')} in ${dest} `
      await commitStep(state, env, createdBy, source.id, {
        layer: (lease) =>
          withCreatedContainer(source.id, env, async (srcId) =>
            deps.containers.withRootfs(srcId, async (srcRoot) => {
              const sources: CopySource[] = []
              for (const p of patterns) sources.push(...(await sourcesFor(resolveSources(srcRoot, p, `stage ${from}`), parents)))
              return copyLayer(state, env, sources, dest, { chown, mode, exclude, parents }, lease)
            }),
          ),
      })
      return
    }
    const sources: CopySource[] = []
    for (const p of patterns) {
      const heredoc = /^<<-?(["']?)([A-Za-z_][A-Za-z0-9_]*)\1$/.exec(p)
      if (heredoc && heredocs.has(heredoc[2]!)) {
        const h = heredocs.get(heredoc[2]!)!
        const file = join(scratch, `heredoc-${sources.length}`, h.name)
        await mkdir(join(file, '..'), { recursive: true })
        await writeFile(file, h.quoted ? h.content : expandVariables(h.content, lookup), { mode: 0o644 })
        sources.push({ host: file, name: h.name, rel: h.name })
      } else if (isGitUrl(p)) {
        if (!isAdd) throw invalid(`source can't be a git repository for COPY: ${p}`)
        const root = await cloneContext(p, await mkdtemp(join(scratch, 'git-'))).catch((err: unknown) => {
          throw invalid(err instanceof Error ? err.message : String(err), err)
        })
        const keepGitDir = flag('keep-git-dir') !== undefined && flag('keep-git-dir') !== 'false'
        if (!keepGitDir) await rm(join(root, '.git'), { recursive: true, force: true })
        sources.push({ host: root, name: posix.basename(root), rel: '' })
      } else if (/^https?:\/\//.test(p)) {
        if (!isAdd) throw invalid(`source can't be a URL for COPY: ${p}`)
        const file = await download(p, scratch, env.signal)
        if (checksum !== undefined) await verifyChecksum(file.host, checksum, p)
        sources.push(file)
      } else {
        if (checksum !== undefined) throw invalid('checksum can\'t be specified for non-HTTP(S) sources')
        const resolved = await sourcesFor(resolveSources(req.context.dir, cleanContextPath(p) || '.', 'build context'), parents)
        for (const s of resolved) if (isAdd && (await isArchive(s.host))) s.unpack = true
        sources.push(...resolved)
      }
    }
    const hash = await hashSources(sources, exclude, req.context.digests)
    const kind = sources.length === 1 ? (sources[0]!.unpack ? 'file' : await kindOf(sources[0]!.host)) : 'multi'
    const createdBy = `/bin/sh -c #(nop) ${instr.keyword} ${flagText}${kind}:${hash} in ${dest} `
    await commitStep(state, env, createdBy, '', { layer: (lease) => copyLayer(state, env, sources, dest, { chown, mode, exclude, parents }, lease) })
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

/** ADD --checksum: the downloaded file's digest must be the one given. */
async function verifyChecksum(path: string, expected: string, url: string): Promise<void> {
  const algorithm = expected.split(':')[0]!
  const h = createHash(algorithm)
  for await (const c of createReadStream(path)) h.update(c as Buffer)
  const actual = `${algorithm}:${h.digest('hex')}`
  if (actual !== expected) throw invalid(`digest mismatch for ${url}: expected ${expected}, got ${actual}`)
}

/** With --parents, each source keeps its path under the destination. */
async function sourcesFor(found: Promise<CopySource[]>, parents: boolean): Promise<CopySource[]> {
  const list = await found
  return parents ? list.map((s) => ({ ...s, keepPath: true })) : list
}

async function kindOf(path: string): Promise<string> {
  return (await lstat(path)).isDirectory() ? 'dir' : 'file'
}

interface CopyFlags {
  chown: string | undefined
  mode: number | undefined
  exclude: ((rel: string) => boolean) | undefined
  parents: boolean
}

/** Copies into a container made on the stage's image (never started) and packs its writable layer. */
async function copyLayer(state: StageState, env: StepEnv, sources: CopySource[], dest: string, flags: CopyFlags, lease: Lease): Promise<NewLayer> {
  const imageId = await ensureImage(state, env)
  const layer = await withCreatedContainer(imageId, env, async (id) => {
    await env.deps.containers.withRootfs(id, async (root) => {
      let owner = { uid: 0, gid: 0 }
      if (flags.chown) {
        const [user = '', group] = flags.chown.split(':')
        const resolved = await resolveUser(root, group === undefined ? user : `${user}:${group}`)
        owner = { uid: resolved.uid, gid: group === undefined ? resolved.uid : resolved.gid }
      }
      await copyToRootfs(root, sources, dest, { owner, ...(flags.mode !== undefined ? { mode: flags.mode } : {}), ...(flags.exclude ? { exclude: flags.exclude } : {}) })
    })
    const { upper } = env.deps.containers.layersOf(id)
    return packContainerLayer(upper, imageId, lease, env.deps, { ...(env.epoch ? { clampMtime: env.epoch } : {}) })
  })
  return layer
}

/** Runs `fn` with a container created (not started) on an image, removed afterwards. */
async function withCreatedContainer<T>(imageId: Digest, env: StepEnv, fn: (id: string) => Promise<T>): Promise<T> {
  const { Id } = await env.deps.containers.create({
    Image: imageId, Cmd: ['/bin/sh'], Entrypoint: [''], Labels: { [BUILD_LABEL]: env.req.id }, HostConfig: { NetworkMode: 'none' },
  })
  try {
    return await fn(Id)
  } finally {
    await env.deps.containers.remove(Id, { force: true }).catch(() => {})
  }
}
