import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'

/** The CLI's config.json, in Docker's format: registry credentials, the current context. */
export interface ConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string }>
  currentContext?: string
  [other: string]: unknown
}

/** The CLI's configuration directory: $CAIS_CONFIG, else ~/.cais (laid out as ~/.docker is). */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['CAIS_CONFIG'] || join(homedir(), '.cais')
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'config.json')
}

export async function readConfig(path: string): Promise<ConfigFile> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ConfigFile
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new Error(`loading config file ${path}: ${(err as Error).message}`, { cause: err })
  }
}

export async function writeConfig(path: string, config: ConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(config, null, '\t') + '\n', { mode: 0o600 })
  await rename(tmp, path)
}
