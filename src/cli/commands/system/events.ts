import type { EventMessage } from '../../../wire/types.ts'
import { jsonLines } from '../../../client/streams.ts'
import type { Command } from '../../command.ts'
import { list, str } from '../../flags.ts'
import { renderTemplate } from '../../output/template.ts'
import { filterFlags } from '../kv.ts'
import { toUnix } from '../container/logs.ts'

/** One event as `docker events` prints it: time, type, action, actor and its sorted attributes. */
export function formatEvent(e: EventMessage): string {
  const nanos = String(e.timeNano % 1_000_000_000).padStart(9, '0')
  const time = new Date(e.time * 1000).toISOString().replace(/\.\d+Z$/, `.${nanos}Z`)
  const attrs = Object.entries(e.Actor.Attributes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')
  return `${time} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs ? ` (${attrs})` : ''}`
}

export const eventsCommand: Command = {
  name: 'events',
  group: 'system',
  usage: 'cais events [OPTIONS]',
  description: 'Get real time events from the server',
  flags: [{ name: 'filter', short: 'f', type: 'list' }, { name: 'format', type: 'string' }, { name: 'since', type: 'string' }, { name: 'until', type: 'string' }],
  maxArgs: 0,
  async run(client, p, io) {
    const since = str(p, 'since')
    const until = str(p, 'until')
    const stream = await client.system.events({
      filters: filterFlags(list(p, 'filter')),
      ...(since ? { since: toUnix(since) } : {}),
      ...(until ? { until: toUnix(until) } : {}),
    })
    const format = str(p, 'format')
    for await (const e of jsonLines<EventMessage>(stream)) {
      io.out(format === 'json' ? JSON.stringify(e) : format ? renderTemplate(format, e) : formatEvent(e))
    }
    return 0
  },
}
