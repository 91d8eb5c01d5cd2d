import { apiVersion, engineVersion } from './versions.ts'

/** Headers every response carries; the Go client reads OSType from the Server header. */
export function commonHeaders(): Record<string, string> {
  return {
    'Api-Version': apiVersion,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    Server: `Docker/${engineVersion} (linux)`,
  }
}
