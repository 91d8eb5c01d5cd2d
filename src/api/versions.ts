export const apiVersion = '1.50'
export const minApiVersion = '1.24'
export const engineVersion = '28.2.0-cais'

export { compareVersions } from '../lib/versions.ts'
