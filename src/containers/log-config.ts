import { invalid } from '../lib/errors.ts'
import { parseBytes } from '../lib/size.ts'
import { checkSyslogOptions } from './syslog-format.ts'

export interface LogConfig {
  Type: string
  Config: Record<string, string>
}

/**
 * The log drivers. Every one but `none` keeps the output in a file conmon writes (so `docker logs` reads it, and a
 * slow reader never holds the container up); `local` is that file with Docker's local-driver limits, and `syslog`
 * also sends each line to a syslog server (syslog-forwarder.ts), as Docker's dual logging keeps a local copy.
 */
export const logDrivers = ['json-file', 'local', 'syslog', 'k8s-file', 'none']

/** Options of every driver: how a line reaches the driver (`mode`, `max-buffer-size`), as Docker's. */
const commonOptions = ['mode', 'max-buffer-size']
const attributeOptions = ['labels', 'labels-regex', 'env', 'env-regex', 'tag']
const driverOptions: Record<string, string[]> = {
  'json-file': ['max-size', 'max-file', 'compress', ...attributeOptions],
  'k8s-file': ['max-size', 'max-file', 'compress', ...attributeOptions],
  local: ['max-size', 'max-file', 'compress'],
  syslog: [
    'syslog-address',
    'syslog-facility',
    'syslog-format',
    'syslog-tls-ca-cert',
    'syslog-tls-cert',
    'syslog-tls-key',
    'syslog-tls-skip-verify',
    ...attributeOptions,
  ],
  none: [],
}

/** Docker's limits for the files of the local driver, and of the copy kept beside a syslog (its dual logging). */
const localDefaults = { maxSize: 20 * 1024 * 1024, maxFile: 5 }

/** Docker's checks of `--log-driver` and `--log-opt`, at create and for the daemon's default. */
export function validateLogConfig(config: LogConfig): void {
  const allowed = driverOptions[config.Type]
  if (!allowed) throw invalid(`logger: no log driver named '${config.Type}' is registered`)
  for (const [k, v] of Object.entries(config.Config)) {
    if (!allowed.includes(k) && !commonOptions.includes(k)) throw invalid(`unknown log opt '${k}' for ${config.Type} log driver`)
    if (k === 'max-size' && (parseBytes(v) === undefined || parseBytes(v)! <= 0)) throw invalid(`invalid value for max-size: ${v}`)
    if (k === 'max-file' && (!/^\d+$/.test(v) || Number(v) < 1)) throw invalid('max-file cannot be less than 1')
    if (k === 'compress' && v !== 'true' && v !== 'false') throw invalid(`error parsing compress option: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`)
    if (k === 'mode' && v !== 'blocking' && v !== 'non-blocking') throw invalid(`logger: unknown log mode: ${v}`)
    if (k === 'max-buffer-size' && (parseBytes(v) === undefined || parseBytes(v)! <= 0)) throw invalid(`logger: could not parse max-buffer-size: ${v}`)
  }
  if (config.Config['max-buffer-size'] !== undefined && config.Config['mode'] !== 'non-blocking') {
    throw invalid("logger: max-buffer-size option is only supported with 'mode=non-blocking'")
  }
  if (config.Type === 'syslog') checkSyslogOptions(config.Config)
}

/**
 * A container's log config from what it asked for and the daemon's default (`--log-driver`, `--log-opt`), as
 * Docker merges them: no driver means the daemon's, with the daemon's options under the container's own; another
 * driver keeps only its own options.
 */
export function effectiveLogConfig(asked: Partial<LogConfig> | undefined, daemonDefault: LogConfig): LogConfig {
  const type = asked?.Type || daemonDefault.Type
  const own = asked?.Config ?? {}
  return { Type: type, Config: type === daemonDefault.Type ? { ...daemonDefault.Config, ...own } : { ...own } }
}

/**
 * The size and number of log files kept, and whether rotated files but the newest are gzipped: the options, or the
 * driver's defaults (none for json-file; 20 MB by 5, compressed, for local and the copy beside a syslog).
 */
export function logFileLimits(config: LogConfig): { maxSize: number | undefined; maxFile: number; compress: boolean } {
  if (config.Type === 'none') return { maxSize: 1024 * 1024, maxFile: 1, compress: false }
  const bounded = config.Type === 'local' || config.Type === 'syslog'
  const maxSize = parseBytes(config.Config['max-size'] ?? '') || (bounded ? localDefaults.maxSize : undefined)
  const maxFile = Number(config.Config['max-file'] ?? '') || (bounded ? localDefaults.maxFile : 1)
  const compress = config.Config['compress'] === undefined ? bounded : config.Config['compress'] === 'true'
  return { maxSize, maxFile, compress }
}

/**
 * The cap conmon keeps on the live log file: it starts a new file when a write would pass it. With a max-size
 * that is the rotation itself (log-rotation.ts keeps the replaced files). With `none` the log exists only for
 * attach (`run` and `start -a` show the output, as Docker's) and stays under 1 MiB.
 */
export function conmonLogSizeMax(config: LogConfig): number | undefined {
  return logFileLimits(config).maxSize
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
