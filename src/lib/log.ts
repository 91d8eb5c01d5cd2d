/** A structured logger: one JSON object per line on stderr. Children carry extra fields (a request id, a container id). */
export type Level = 'debug' | 'info' | 'warn' | 'error'
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
  child(fields: Record<string, unknown>): Logger
  enabled(level: Level): boolean
  /** Changes the level of this logger and of every child it made (a reload of the daemon's config). */
  setLevel(level: Level): void
}

export function createLogger(min: Level, write: (line: string) => void, base: Record<string, unknown> = {}): Logger {
  return loggerOf({ min }, write, base)
}

/** Children share their parent's level holder, so a change reaches them all. */
function loggerOf(level: { min: Level }, write: (line: string) => void, base: Record<string, unknown>): Logger {
  const emit = (l: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (order[l] < order[level.min]) return
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level: l, msg, ...base, ...fields }
    for (const [k, v] of Object.entries(entry)) if (v instanceof Error) entry[k] = v.stack ?? v.message
    write(JSON.stringify(entry) + '\n')
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => loggerOf(level, write, { ...base, ...fields }),
    enabled: (l) => order[l] >= order[level.min],
    setLevel: (l) => {
      level.min = l
    },
  }
}
