// Bundles each of cais's programs into one CommonJS file, which its bin/ script runs when it is there and current.
//
//   node scripts/bundle.ts [--root DIR] [--if-changed]
//
// Why: a program in sources loads each of its modules through the ESM loader (resolution, type stripping, a
// compile cache lookup each), and type stripping keeps its WebAssembly compiler in the process. One file does it
// at once: 6–8 ms of a `cais ps`, and 4 MB of a resting caisd (bench/README.md). A bundle keeps the size and mtime
// of every source it was made of and checks them when it starts (a stat each, a millisecond or two for the
// daemon's 200): after any edit it runs the sources instead, so it can be out of date but never wrong. setup.sh
// makes them again.
import { readFileSync, renameSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join, posix, relative, resolve } from 'node:path'

/** The programs, by the bin/ script that runs each: its entry module and where its bundle goes. */
export const programs = {
  cais: { entry: 'src/cli/entry.ts', out: 'node_modules/.cache/cais-cli/cais.cjs' },
  caisd: { entry: 'src/daemon/main.ts', out: 'node_modules/.cache/cais-daemon/caisd.cjs' },
  'cais-registry': { entry: 'src/registry/main.ts', out: 'node_modules/.cache/cais-registry/cais-registry.cjs' },
} as const

export type Program = keyof typeof programs

interface Source {
  path: string
  code: string
  /** Taken before the file was read: an edit while the bundle is made leaves it out of date, not wrong. */
  mtimeMs: number
  size: number
}

/**
 * The code with every character beyond Latin-1 written as its escape: V8 keeps a script's source for as long as
 * the script lives, one byte a character when all of it is Latin-1, two otherwise (a single `…` doubles the
 * daemon's 1.2 MB). Comments are gone by then, so what is left of those characters is in strings, templates and
 * regular expressions, where `\uXXXX` means the same code unit; not in a String.raw template, where it would stay
 * six characters: a module with one is refused.
 */
function latin1(code: string, path: string): string {
  if (code.includes('String.raw') && /[\u0100-\uffff]/.test(code)) throw new Error(`${path}: a character beyond Latin-1 in a module with a String.raw template: write it as an escape`)
  return code.replace(/[\u0100-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Every module the entry can load, relative imports followed, dynamic ones (the commands) too. */
async function collect(root: string, entry: string): Promise<Source[]> {
  const ts = (await import('typescript')).default
  const sources = new Map<string, Source>()
  const required = [entry]
  const visit = (rel: string): void => {
    if (sources.has(rel)) return
    const { mtimeMs, size } = statSync(join(root, rel))
    const text = readFileSync(join(root, rel), 'utf8')
    const { outputText } = ts.transpileModule(text, {
      fileName: rel,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2023, esModuleInterop: true, sourceMap: false, removeComments: true },
    })
    // Each relative require names the module by its path from the root, the key it has in the bundle: resolved
    // here once rather than at each require.
    const code = outputText.replace(/\brequire\((["'])(\.{1,2}\/[^"']+)\1\)/g, (_, _q: string, spec: string) => {
      const key = posix.normalize(posix.join(posix.dirname(rel), spec))
      required.push(key)
      return `require(${JSON.stringify(key)})`
    })
    sources.set(rel, { path: rel, code: latin1(code, rel), mtimeMs, size })
  }
  for (let next = required.pop(); next !== undefined; next = required.pop()) visit(next)
  return [...sources.values()]
}

/** This script is a source of each bundle too: a change to it makes them out of date. */
const builder = 'scripts/bundle.ts'

function bundleText(sources: Source[], root: string, out: string, entry: string): string {
  const own = statSync(join(root, builder))
  const manifest = [...sources.map((s) => [s.path, s.mtimeMs, s.size]), [builder, own.mtimeMs, own.size]]
  const modules = sources.map((s) => `${JSON.stringify(s.path)}: function (exports, require, module, __filename, __dirname) {\n${s.code}\n}`).join(',\n')
  return `'use strict'
// Made by scripts/bundle.ts from the sources listed below; not to be edited.
const { statSync } = require('node:fs')
const { posix } = require('node:path')
const root = require('node:path').resolve(__dirname, ${JSON.stringify(relative(dirname(out), root))})
const sources = ${JSON.stringify(manifest)}
const current = sources.every(([path, mtimeMs, size]) => {
  try {
    const st = statSync(root + '/' + path)
    return st.mtimeMs === mtimeMs && st.size === size
  } catch {
    return false
  }
})
if (!current) {
  // A source changed since the bundle was made: run the sources themselves.
  import(require('node:url').pathToFileURL(root + '/' + ${JSON.stringify(entry)}).href)
} else {
  const modules = {
${modules}
  }
  const loaded = new Map()
  const requireFrom = (spec) => (Object.hasOwn(modules, spec) ? load(spec) : require(spec))
  const load = (path) => {
    let m = loaded.get(path)
    if (m) return m.exports
    m = { exports: {} }
    loaded.set(path, m)
    modules[path].call(m.exports, m.exports, requireFrom, m, root + '/' + path, root + '/' + posix.dirname(path))
    return m.exports
  }
  load(${JSON.stringify(entry)})
}
`
}

/** True when a bundle is at `out` and none of the files it was made of changed since: the check its prelude makes. */
export function bundleIsCurrent(root: string, out: string): boolean {
  let text
  try {
    text = readFileSync(out, 'utf8')
  } catch {
    return false
  }
  const line = /^const sources = (.*)$/m.exec(text)?.[1]
  if (!line) return false
  return (JSON.parse(line) as Array<[string, number, number]>).every(([path, mtimeMs, size]) => {
    try {
      const st = statSync(join(root, path))
      return st.mtimeMs === mtimeMs && st.size === size
    } catch {
      return false
    }
  })
}

export async function buildBundle(opts: { root: string; program: Program; out?: string | undefined; ifChanged?: boolean }): Promise<{ out: string; modules: number | undefined }> {
  const root = resolve(opts.root)
  const { entry, out: defaultOut } = programs[opts.program]
  const out = resolve(opts.out ?? join(root, defaultOut))
  if (opts.ifChanged && bundleIsCurrent(root, out)) return { out, modules: undefined }
  const sources = await collect(root, entry)
  mkdirSync(dirname(out), { recursive: true })
  const tmp = `${out}.${process.pid}.tmp`
  writeFileSync(tmp, bundleText(sources, root, out, entry))
  renameSync(tmp, out)
  return { out, modules: sources.length }
}

if (import.meta.filename === process.argv[1]) {
  const i = process.argv.indexOf('--root')
  const root = i > 0 ? process.argv[i + 1]! : join(import.meta.dirname, '..')
  for (const program of Object.keys(programs) as Program[]) {
    const { out, modules } = await buildBundle({ root, program, ifChanged: process.argv.includes('--if-changed') })
    process.stdout.write(modules === undefined ? `${program} bundle: ${out} is current\n` : `${program} bundle: ${modules} modules in ${out}\n`)
  }
}
