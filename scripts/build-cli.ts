// Bundles the CLI into one CommonJS file, which bin/cais runs when it is there and current.
//
//   node scripts/build-cli.ts [--root DIR] [--out FILE] [--if-changed]
//
// Why: a CLI start loads a dozen modules or more through the ESM loader (resolution, type stripping, a compile
// cache lookup each); one file does it at once, 6–8 ms of a `cais ps`. The bundle keeps the size and mtime of every
// source it was made of and checks them when it starts (a stat each, well under a millisecond): after any edit it
// runs the sources instead, so it can be out of date but never wrong. setup.sh makes it again.
import { readFileSync, renameSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join, posix, relative, resolve } from 'node:path'

export const defaultBundlePath = (root: string): string => join(root, 'node_modules/.cache/cais-cli/cais.cjs')

interface Source {
  path: string
  code: string
  /** Taken before the file was read: an edit while the bundle is made leaves it out of date, not wrong. */
  mtimeMs: number
  size: number
}

/** Every module the entry can load, relative imports followed, dynamic ones (the commands) too. */
async function collect(root: string, entry: string): Promise<Source[]> {
  const ts = (await import('typescript')).default
  const sources = new Map<string, Source>()
  const visit = (rel: string): void => {
    if (sources.has(rel)) return
    const { mtimeMs, size } = statSync(join(root, rel))
    const text = readFileSync(join(root, rel), 'utf8')
    const { outputText } = ts.transpileModule(text, {
      fileName: rel,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2023, esModuleInterop: true, sourceMap: false },
    })
    sources.set(rel, { path: rel, code: outputText, mtimeMs, size })
    for (const m of outputText.matchAll(/\brequire\((["'])(\.{1,2}\/[^"']+)\1\)/g)) visit(posix.normalize(posix.join(posix.dirname(rel), m[2]!)))
  }
  visit(entry)
  return [...sources.values()]
}

/** This script is a source of the bundle too: a change to it makes the bundle out of date. */
const builder = 'scripts/build-cli.ts'

function bundleText(sources: Source[], root: string, out: string, entry: string): string {
  const own = statSync(join(root, builder))
  const manifest = [...sources.map((s) => [s.path, s.mtimeMs, s.size]), [builder, own.mtimeMs, own.size]]
  const modules = sources.map((s) => `${JSON.stringify(s.path)}: function (exports, require, module, __filename, __dirname) {\n${s.code}\n}`).join(',\n')
  return `'use strict'
// Made by scripts/build-cli.ts from the sources listed below; not to be edited.
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
  const load = (path) => {
    let m = loaded.get(path)
    if (m) return m.exports
    m = { exports: {} }
    loaded.set(path, m)
    const requireFrom = (spec) => (spec.startsWith('./') || spec.startsWith('../') ? load(posix.normalize(posix.join(posix.dirname(path), spec))) : require(spec))
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

export async function buildCliBundle(opts: { root: string; out?: string | undefined; ifChanged?: boolean }): Promise<{ out: string; modules: number | undefined }> {
  const root = resolve(opts.root)
  const out = resolve(opts.out ?? defaultBundlePath(root))
  if (opts.ifChanged && bundleIsCurrent(root, out)) return { out, modules: undefined }
  const entry = 'src/cli/entry.ts'
  const sources = await collect(root, entry)
  mkdirSync(dirname(out), { recursive: true })
  const tmp = `${out}.${process.pid}.tmp`
  writeFileSync(tmp, bundleText(sources, root, out, entry))
  renameSync(tmp, out)
  return { out, modules: sources.length }
}

if (import.meta.filename === process.argv[1]) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name)
    return i > 0 ? process.argv[i + 1] : undefined
  }
  const { out, modules } = await buildCliBundle({ root: arg('--root') ?? join(import.meta.dirname, '..'), out: arg('--out'), ifChanged: process.argv.includes('--if-changed') })
  process.stdout.write(modules === undefined ? `cais CLI bundle: ${out} is current\n` : `cais CLI bundle: ${modules} modules in ${out}\n`)
}
