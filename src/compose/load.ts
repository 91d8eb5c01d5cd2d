import { existsSync, readFileSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { type ScalarTag, YAMLParseError, parseDocument } from 'yaml'
import { parseDotenv } from './dotenv.ts'
import { ComposeError } from './errors.ts'
import { type Variables, interpolateTree } from './interpolate.ts'
import { validateDocument } from './validate.ts'
import { Override, RESET, markMergeTags, stripMarkers } from './yaml-tags.ts'

export { ComposeError }

/** The names compose looks for, in order, and the override each may have. */
const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml']

export interface LoadOptions {
  /** `-f`, repeatable; empty: COMPOSE_FILE, then the default names, found from `cwd` upward. */
  files: string[]
  projectName?: string | undefined
  projectDirectory?: string | undefined
  /** `--env-file`, repeatable; empty: `.env` in the project directory. */
  envFiles: string[]
  /** The shell's environment. */
  env: NodeJS.ProcessEnv
  cwd: string
  /** Texts to read instead of what is on disk, by absolute path (an edit checked before it is saved). */
  contents?: ReadonlyMap<string, string> | undefined
}

/** A compose file set, read, interpolated and merged, with the project it names. */
export interface LoadedProject {
  name: string
  workingDir: string
  files: string[]
  envFiles: string[]
  /** The merged document, interpolated, before normalisation. */
  document: Record<string, unknown>
  /** Values for interpolation and env_file-less `environment` entries: the shell over the env files. */
  environment: Map<string, string>
}

export function loadProject(opts: LoadOptions): LoadedProject {
  const files = composeFiles(opts)
  const workingDir = resolve(opts.cwd, opts.projectDirectory ?? dirname(files[0]!))
  const envFiles = opts.envFiles.length > 0 ? opts.envFiles.map((f) => resolve(opts.cwd, f)) : [join(workingDir, '.env')].filter((f) => existsSync(f))
  const environment = new Map<string, string>()
  const shell: Variables = (n) => opts.env[n]
  for (const f of envFiles) {
    if (!existsSync(f)) throw new ComposeError(`couldn't find env file: ${f}`)
    for (const [k, v] of parseDotenv(readFileSync(f, 'utf8'), (n) => environment.get(n) ?? shell(n), f)) environment.set(k, v)
  }
  // The shell wins over the env files.
  for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) environment.set(k, v)
  const vars: Variables = (n) => environment.get(n)

  let document: Record<string, unknown> = {}
  for (const file of files) document = mergeDocuments(document, readProjectFile(file, vars, [file], opts.cwd, opts.contents?.get(file)))
  document = stripMarkers(document) as Record<string, unknown>
  validateDocument(document, files, opts.contents)
  const name = projectName(opts, document, workingDir, environment)
  return { name, workingDir, files, envFiles, document, environment }
}

/** The files of a project: `-f`, else COMPOSE_FILE, else a default name and its override, found upward. */
export function composeFiles(opts: Pick<LoadOptions, 'files' | 'env' | 'cwd'>): string[] {
  if (opts.files.length > 0) return opts.files.map((f) => (f === '-' ? f : resolve(opts.cwd, f)))
  const fromEnv = opts.env['COMPOSE_FILE']
  if (fromEnv) return fromEnv.split(opts.env['COMPOSE_PATH_SEPARATOR'] ?? ':').filter((f) => f !== '').map((f) => resolve(opts.cwd, f))
  for (let dir = resolve(opts.cwd); ; dir = dirname(dir)) {
    for (const name of DEFAULT_FILES) {
      const file = join(dir, name)
      if (!existsSync(file)) continue
      const override = join(dir, name.replace(/\.(ya?ml)$/, '.override.$1'))
      return existsSync(override) ? [file, override] : [file]
    }
    if (dirname(dir) === dir) break
  }
  throw new ComposeError('no configuration file provided: not found')
}

/** One file, interpolated, its `extends` resolved and its `include`s merged in. */
function readProjectFile(file: string, vars: Variables, chain: string[], cwd: string, text?: string): Record<string, unknown> {
  let doc: Record<string, unknown>
  try {
    doc = interpolateTree(readYaml(file, text), vars) as Record<string, unknown>
  } catch (err) {
    if (err instanceof ComposeError) throw err
    throw new ComposeError(`${file}: ${err instanceof Error ? err.message : String(err)}`)
  }
  resolveExtends(doc, dirname(file), vars, chain)
  const includes = doc['include']
  delete doc['include']
  if (includes === undefined || includes === null) return doc
  if (!Array.isArray(includes)) throw new ComposeError(`${file}: include must be a list`)
  for (const [i, entry] of includes.entries()) {
    const spec = typeof entry === 'string' ? { path: entry } : (entry as { path?: string | string[]; env_file?: string | string[]; project_directory?: string })
    const paths = (Array.isArray(spec.path) ? spec.path : [spec.path]).filter((x): x is string => typeof x === 'string').map((x) => resolve(dirname(file), x))
    if (paths.length === 0) throw new ComposeError(`${file}: include[${i}].path is required`)
    for (const p of paths) if (chain.includes(p)) throw new ComposeError(`include cycle detected: ${[...chain, p].join(' -> ')}`)
    const dir = spec.project_directory ? resolve(dirname(file), spec.project_directory) : dirname(paths[0]!)
    // An included file sees its own env files under the including project's values.
    const own = new Map<string, string>()
    const envFiles = spec.env_file === undefined ? [join(dir, '.env')].filter((f) => existsSync(f)) : (Array.isArray(spec.env_file) ? spec.env_file : [spec.env_file]).map((f) => resolve(dirname(file), f))
    for (const f of envFiles) for (const [k, v] of parseDotenv(readFileSync(f, 'utf8'), (n) => own.get(n) ?? vars(n), f)) own.set(k, v)
    const includedVars: Variables = (n) => vars(n) ?? own.get(n)
    let included: Record<string, unknown> = {}
    for (const p of paths) included = mergeDocuments(included, readProjectFile(p, includedVars, [...chain, p], cwd))
    absolutizePaths(included, dir)
    for (const kind of ['services', 'networks', 'volumes', 'secrets', 'configs']) {
      const mine = doc[kind]
      const theirs = included[kind]
      if (!isMapping(mine) || !isMapping(theirs)) continue
      for (const key of Object.keys(theirs)) {
        if (key in mine && JSON.stringify(mine[key]) !== JSON.stringify(theirs[key])) throw new ComposeError(`${file}: ${kind}.${key} conflicts with imported resource from ${paths.join(', ')}`)
      }
    }
    doc = mergeDocuments(included, doc)
  }
  return doc
}

/** Makes the relative paths of an included project absolute against its own directory, before it is merged in. */
function absolutizePaths(doc: Record<string, unknown>, dir: string): void {
  const abs = (p: string): string => (isAbsolute(p) || p.startsWith('~') ? p : resolve(dir, p))
  for (const svc of Object.values(isMapping(doc['services']) ? doc['services'] : {})) {
    if (!isMapping(svc)) continue
    if (typeof svc['build'] === 'string') svc['build'] = abs(svc['build'])
    else if (isMapping(svc['build'])) svc['build']['context'] = abs(typeof svc['build']['context'] === 'string' ? svc['build']['context'] : '.')
    if (typeof svc['env_file'] === 'string') svc['env_file'] = abs(svc['env_file'])
    else if (Array.isArray(svc['env_file'])) svc['env_file'] = svc['env_file'].map((f: unknown) => (typeof f === 'string' ? abs(f) : isMapping(f) && typeof f['path'] === 'string' ? { ...f, path: abs(f['path']) } : f))
    if (Array.isArray(svc['volumes'])) {
      svc['volumes'] = svc['volumes'].map((v: unknown) => {
        if (typeof v === 'string' && v.startsWith('.')) return abs(v.split(':')[0]!) + v.slice(v.split(':')[0]!.length)
        if (isMapping(v) && v['type'] === 'bind' && typeof v['source'] === 'string') return { ...v, source: abs(v['source']) }
        return v
      })
    }
  }
  for (const kind of ['secrets', 'configs']) {
    for (const o of Object.values(isMapping(doc[kind]) ? doc[kind] : {})) if (isMapping(o) && typeof o['file'] === 'string') o['file'] = abs(o['file'])
  }
}

/** `0440` is octal to compose-go's YAML reader (file modes are written so), where YAML 1.2 reads 440. */
const legacyOctal: ScalarTag = { tag: 'tag:yaml.org,2002:int', test: /^0[0-7]+$/, resolve: (s) => parseInt(s, 8), default: true }

function readYaml(file: string, given?: string): Record<string, unknown> {
  let text: string
  try {
    text = given ?? readFileSync(file, 'utf8')
  } catch (err) {
    throw new ComposeError(`open ${file}: ${err instanceof Error && 'code' in err && err.code === 'ENOENT' ? 'no such file or directory' : String(err)}`)
  }
  const doc = parseDocument(text, { merge: true, uniqueKeys: true, prettyErrors: true, customTags: (tags) => [legacyOctal, ...(tags as ScalarTag[])] })
  const first = doc.errors[0]
  if (!first) markMergeTags(doc)
  if (first) {
    const pos = first.linePos?.[0]
    throw new ComposeError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${first.message.split('\n')[0]}`)
  }
  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    throw new ComposeError(`${file}: ${err instanceof YAMLParseError || err instanceof Error ? err.message : String(err)}`)
  }
  if (value === null || value === undefined) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw new ComposeError(`${file}: the top level must be a mapping`)
  return value as Record<string, unknown>
}

/**
 * `extends`: each service that names another (in this file, or in `file` relative to it) becomes that service's
 * attributes with its own merged over them, by the same rules as files. Chains are followed; a cycle is named.
 */
function resolveExtends(doc: Record<string, unknown>, dir: string, vars: Variables, chain: string[]): void {
  const services = doc['services']
  if (!isMapping(services)) return
  const resolving = new Set<string>()
  const resolveOne = (name: string): Record<string, unknown> => {
    const svc = services[name]
    if (!isMapping(svc)) throw new ComposeError(`service "${name}" not found${chain.length > 1 ? ` in ${chain.at(-1)!}` : ''}`)
    const ext = svc['extends']
    if (ext === undefined) return svc
    if (resolving.has(name)) throw new ComposeError(`circular reference with extends: ${[...resolving, name].join(' -> ')}`)
    resolving.add(name)
    const spec = typeof ext === 'string' ? { service: ext } : (ext as { service?: string; file?: string })
    if (!spec.service) throw new ComposeError(`services.${name}.extends: a service to extend is required`)
    let base: Record<string, unknown>
    if (spec.file) {
      const file = resolve(dir, spec.file)
      if (chain.includes(file) && spec.service === name) throw new ComposeError(`circular reference with extends: ${name} in ${file}`)
      const other = interpolateTree(readYaml(file), vars) as Record<string, unknown>
      resolveExtends(other, dirname(file), vars, [...chain, file])
      if (dirname(file) !== dir) absolutizePaths(other, dirname(file))
      base = mapping(mapping(other['services'])[spec.service], `service "${spec.service}" not found in ${file}`)
    } else base = resolveOne(spec.service)
    const { extends: _omit, ...own } = svc
    // Attributes that tie a service to others are not inherited (the spec's rule).
    const { depends_on: _d, volumes_from: _v, links: _l, ...inherited } = base
    const merged = mergeDocuments({ services: { [name]: inherited } }, { services: { [name]: own } })
    const result = mapping(mapping(merged['services'])[name])
    services[name] = result
    resolving.delete(name)
    return result
  }
  for (const name of Object.keys(services)) resolveOne(name)
}

function mapping(v: unknown, missing = 'expected a mapping'): Record<string, unknown> {
  if (!isMapping(v)) throw new ComposeError(missing)
  return v
}

/**
 * Merges a later file into an earlier one by the spec's rules: mappings merge key by key, sequences append,
 * except the attributes a later file replaces outright (`command`, `entrypoint`, `healthcheck.test`, scalars),
 * and `ports`, `volumes`, `secrets`, `configs` and `expose`, unique by their target.
 */
export function mergeDocuments(base: Record<string, unknown>, over: Record<string, unknown>, path: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const here = [...path, k]
    const prev = out[k]
    if (v === RESET) delete out[k]
    else if (v instanceof Override) out[k] = v.value
    else if (replaced(here)) out[k] = v
    else if (isMapping(prev) && isMapping(v)) out[k] = mergeDocuments(prev, v, here)
    else if (Array.isArray(prev) && Array.isArray(v)) out[k] = uniqueBy(here) ? mergeUnique(prev as unknown[], v as unknown[]) : [...(prev as unknown[]), ...(v as unknown[])]
    else out[k] = v
  }
  return out
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

function replaced(path: string[]): boolean {
  const [top, , attr, sub] = path
  if (top !== 'services') return false
  return attr === 'command' || attr === 'entrypoint' || (attr === 'healthcheck' && sub === 'test')
}

function uniqueBy(path: string[]): boolean {
  return path[0] === 'services' && path.length === 3 && ['ports', 'volumes', 'secrets', 'configs', 'expose', 'dns', 'labels'].includes(path[2]!)
}

function mergeUnique(prev: unknown[], next: unknown[]): unknown[] {
  const key = (v: unknown): string => {
    const k = isMapping(v) ? (v['target'] ?? v['source']) : v
    return typeof k === 'string' || typeof k === 'number' ? `${k}`.split(':').at(-1)! : JSON.stringify(v)
  }
  const out = new Map<string, unknown>()
  for (const v of [...prev, ...next]) out.set(key(v), v)
  return [...out.values()]
}

/** `-p` > COMPOSE_PROJECT_NAME > top-level `name` > the directory's name, normalised; an invalid explicit one is an error. */
function projectName(opts: LoadOptions, doc: Record<string, unknown>, workingDir: string, env: Map<string, string>): string {
  const explicit = opts.projectName ?? env.get('COMPOSE_PROJECT_NAME') ?? (typeof doc['name'] === 'string' ? doc['name'] : undefined)
  if (explicit !== undefined && explicit !== '') {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(explicit)) {
      throw new ComposeError(`invalid project name "${explicit}": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`)
    }
    return explicit
  }
  return basename(workingDir).toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[_-]+/, '')
}
