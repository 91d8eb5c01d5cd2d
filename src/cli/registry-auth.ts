import type { AuthConfig } from '../wire/types.ts'
import { configPath, readConfig, writeConfig } from './config-file.ts'

export { configPath } from './config-file.ts'

/** Docker Hub's key in config.json, as `docker login` writes it. */
export const dockerHubKey = 'https://index.docker.io/v1/'

/** The registry part of an image name, as the key config.json uses: Docker Hub's index URL, or `host[:port]`. */
export function registryKeyOf(image: string): string {
  const slash = image.indexOf('/')
  const first = slash > 0 ? image.slice(0, slash) : ''
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost') && first !== 'docker.io' && first !== 'index.docker.io') return first
  return dockerHubKey
}

/** `docker login SERVER` accepts URLs and hostnames; config.json keys are normalised like this. */
export function registryKeyOfServer(server: string | undefined): string {
  if (!server) return dockerHubKey
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '')
  return ['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(host) ? dockerHubKey : host
}

export async function saveCredentials(key: string, username: string, password: string, path = configPath()): Promise<void> {
  const config = await readConfig(path)
  config.auths = { ...config.auths, [key]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } }
  await writeConfig(path, config)
}

/** Removes stored credentials; false when there were none. */
export async function removeCredentials(key: string, path = configPath()): Promise<boolean> {
  const config = await readConfig(path)
  if (!config.auths?.[key]) return false
  delete config.auths[key]
  await writeConfig(path, config)
  return true
}

export async function credentialsFor(key: string, path = configPath()): Promise<AuthConfig | undefined> {
  const entry = (await readConfig(path)).auths?.[key]
  if (!entry?.auth) return undefined
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: key }
}

/** The X-Registry-Auth value for an image: the stored credentials of its registry, base64url JSON. */
export async function registryAuthFor(image: string): Promise<string | undefined> {
  const creds = await credentialsFor(registryKeyOf(image))
  return creds ? Buffer.from(JSON.stringify(creds)).toString('base64url') : undefined
}
