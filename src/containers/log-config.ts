import { invalid } from '../lib/errors.ts'
import { parseBytes } from '../lib/size.ts'

const drivers = ['json-file', 'local', 'k8s-file', 'none']
const fileOptions = ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag']

/** Docker's checks of `--log-driver` and `--log-opt` at create. */
export function validateLogConfig(config: { Type: string; Config: Record<string, string> }): void {
  if (!drivers.includes(config.Type)) throw invalid(`logger: no log driver named '${config.Type}' is registered`)
  for (const [k, v] of Object.entries(config.Config)) {
    if (config.Type === 'none') throw invalid(`unknown log opt '${k}' for none log driver`)
    if (!fileOptions.includes(k)) throw invalid(`unknown log opt '${k}' for ${config.Type} log driver`)
    if (k === 'max-size' && (parseBytes(v) === undefined || parseBytes(v)! <= 0)) throw invalid(`invalid value for max-size: ${v}`)
    if (k === 'max-file' && (!/^\d+$/.test(v) || Number(v) < 1)) throw invalid('max-file cannot be less than 1')
  }
}

/**
 * The cap conmon keeps on the live log file: it starts a new file when a write would pass it. With json-file's
 * `max-size` that is the rotation itself (log-rotation.ts keeps the replaced files). With `none` the log exists
 * only for attach (`run` and `start -a` show the output, as Docker's) and stays under 1 MiB.
 */
export function conmonLogSizeMax(config: { Type: string; Config: Record<string, string> }): number | undefined {
  if (config.Type === 'none') return 1024 * 1024
  return parseBytes(config.Config['max-size'] ?? '') || undefined
}

/**
 * The attributes a log driver attaches to each line (`--log-opt labels=…,env=…` and their `-regex` forms), which
 * `logs --details` prints before the text: the container's labels and environment variables they name.
 */
export function logAttributes(config: { Config: Record<string, string> }, labels: Record<string, string>, env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  const o = config.Config
  const names = (key: string): string[] => (o[key] ? o[key].split(',').map((x) => x.trim()).filter(Boolean) : [])
  const regex = (key: string): RegExp | undefined => {
    try {
      return o[key] ? new RegExp(o[key]) : undefined
    } catch {
      return undefined
    }
  }
  const wantedLabels = names('labels')
  const labelRe = regex('labels-regex')
  for (const [k, v] of Object.entries(labels)) if (wantedLabels.includes(k) || labelRe?.test(k)) out[k] = v
  const vars = new Map(env.map((e) => [e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')), e.includes('=') ? e.slice(e.indexOf('=') + 1) : '']))
  const wantedEnv = names('env')
  const envRe = regex('env-regex')
  for (const [k, v] of vars) if (wantedEnv.includes(k) || envRe?.test(k)) out[k] = v
  return out
}
