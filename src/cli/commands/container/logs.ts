import type { Command } from '../../command.ts'
import { bool, str } from '../../flags.ts'

export const logsCommand: Command = {
  name: 'logs',
  group: 'container',
  usage: 'cais logs [OPTIONS] CONTAINER',
  description: 'Fetch the logs of a container',
  flags: [
    { name: 'follow', short: 'f', type: 'bool' },
    { name: 'timestamps', short: 't', type: 'bool' },
    { name: 'tail', short: 'n', type: 'string' },
    { name: 'since', type: 'string' },
    { name: 'until', type: 'string' },
    { name: 'details', type: 'bool' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(client, p, io) {
    const opts: Parameters<typeof client.containers.logs>[1] = { follow: bool(p, 'follow'), timestamps: bool(p, 'timestamps'), details: bool(p, 'details') }
    if (str(p, 'tail') !== undefined) opts.tail = str(p, 'tail')!
    for (const k of ['since', 'until'] as const) {
      const v = str(p, k)
      if (v !== undefined) opts[k] = toUnix(v)
    }
    for await (const chunk of await client.containers.logs(p.args[0]!, opts)) (chunk.stream === 'stderr' ? io.stderr : io.stdout).write(chunk.data)
    return 0
  },
}

/** The CLI sends since/until as unix seconds: durations ("10m") count back from now, dates are parsed. */
export function toUnix(v: string): string {
  if (/^\d+(\.\d+)?$/.test(v)) return v
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v)
  if (m) {
    const mult = { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h']
    return (Date.now() / 1000 - Number(m[1]) * mult).toFixed(9)
  }
  const t = Date.parse(v)
  return Number.isNaN(t) ? v : (t / 1000).toFixed(9)
}
