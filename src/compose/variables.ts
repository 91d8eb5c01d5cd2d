import { existsSync, readFileSync } from 'node:fs'
import { parseDocument } from 'yaml'
import { parseDotenv } from './dotenv.ts'
import type { Project } from './model.ts'

/** One variable a compose file interpolates, as `config --variables` lists it. */
export interface VariableUse {
  name: string
  required: boolean
  defaultValue: string
  alternateValue: string
  /** Its value now, and where that came from: `shell`, an env file's path, or `unset`. */
  value: string | undefined
  source: string
}

/**
 * The variables the project's files use, with their defaults and — beyond docker compose — where each value comes
 * from. A variable set only in a service's `env_file` is reported in `warnings`: env_file values reach the
 * container, never interpolation (docker/compose#11755).
 */
export function projectVariables(project: Project, env: NodeJS.ProcessEnv, warnings: string[]): VariableUse[] {
  const uses = new Map<string, VariableUse>()
  const envFileValues = new Map<string, string>()
  for (const f of project.envFiles) if (existsSync(f)) for (const [k, v] of parseDotenv(readFileSync(f, 'utf8'), () => undefined, f)) envFileValues.set(k, v)
  const visit = (node: unknown): void => {
    if (typeof node === 'string') {
      for (const u of scan(node)) if (!uses.has(u.name)) uses.set(u.name, u)
    } else if (Array.isArray(node)) node.forEach(visit)
    else if (node !== null && typeof node === 'object') Object.values(node).forEach(visit)
  }
  const serviceEnvFiles: Array<{ service: string; file: string }> = []
  for (const file of project.files) {
    if (!existsSync(file)) continue
    const doc = parseDocument(readFileSync(file, 'utf8')).toJS() as Record<string, unknown> | null
    visit(doc)
    for (const [service, s] of Object.entries((doc?.['services'] ?? {}) as Record<string, { env_file?: unknown }>)) {
      const files = s?.env_file === undefined ? [] : Array.isArray(s.env_file) ? s.env_file : [s.env_file]
      for (const f of files) serviceEnvFiles.push({ service, file: typeof f === 'string' ? f : String((f as { path?: string }).path) })
    }
  }
  for (const u of uses.values()) {
    if (env[u.name] !== undefined) {
      u.value = env[u.name]
      u.source = 'shell'
    } else if (envFileValues.has(u.name)) {
      u.value = envFileValues.get(u.name)
      u.source = project.envFiles.find((f) => existsSync(f) && parseDotenv(readFileSync(f, 'utf8'), () => undefined, f).has(u.name)) ?? '.env'
    }
    if (u.value !== undefined) continue
    for (const { service, file } of serviceEnvFiles) {
      const path = file.startsWith('/') ? file : `${project.workingDir}/${file}`
      if (existsSync(path) && parseDotenv(readFileSync(path, 'utf8'), () => undefined, path).has(u.name)) {
        warnings.push(`${u.name} is set in ${file}, the env_file of service "${service}", which does not feed interpolation: set it in the shell or in .env`)
      }
    }
  }
  return [...uses.values()].sort((a, b) => a.name.localeCompare(b.name))
}

/** The `${…}` and `$NAME` uses in one string, nested defaults included. */
function scan(text: string): VariableUse[] {
  const out: VariableUse[] = []
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '$') continue
    if (text[i + 1] === '$') {
      i++
      continue
    }
    if (text[i + 1] === '{') {
      let depth = 1
      let j = i + 2
      for (; j < text.length && depth > 0; j++) {
        if (text[j] === '{') depth++
        else if (text[j] === '}') depth--
      }
      const body = text.slice(i + 2, j - 1)
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body)
      if (m) {
        const op = m[2] ?? ''
        const arg = m[3] ?? ''
        out.push({ name: m[1]!, required: op.endsWith('?'), defaultValue: op.endsWith('-') ? arg : '', alternateValue: op.endsWith('+') ? arg : '', value: undefined, source: 'unset' })
        out.push(...scan(arg))
      }
      i = j - 1
      continue
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))
    if (m) out.push({ name: m[0], required: false, defaultValue: '', alternateValue: '', value: undefined, source: 'unset' })
  }
  return out
}
