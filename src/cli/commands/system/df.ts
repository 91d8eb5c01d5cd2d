import type { Command } from '../../command.ts'
import { bool } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'
import { humanDuration } from '../../../lib/time.ts'
import { humanSize } from '../../../lib/size.ts'
import type { ContainerSummary } from '../../../wire/types.ts'

interface CacheEntry {
  ID: string
  Type: string
  Size: number
  CreatedAt: string
  LastUsedAt: string | null
  UsageCount: number
  InUse: boolean
  Shared: boolean
}

/** go-units' HumanSize, which Docker's df prints where it does not round to 3 digits. */
const size4 = (n: number): string => humanSize(n, 4)
const ago = (ms: number): string => `${humanDuration(Date.now() - ms)} ago`
const withPercent = (part: number, whole: number): string => (whole > 0 ? `${size4(part)} (${Math.trunc((part / whole) * 100)}%)` : size4(part))
const activeStates = new Set(['running', 'paused', 'restarting'])

/** Least recently used first, never-used last, as Docker's CLI lists the cache. */
const lastUsedFirstToLast = (cache: CacheEntry[]): CacheEntry[] =>
  cache
    .map((e, i) => ({ e, i, t: e.LastUsedAt ? Date.parse(e.LastUsedAt) : Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map(({ e }) => e)

/** `docker ps`'s COMMAND column: at most 20 characters, quoted as Go quotes. */
const quotedCommand = (c: string): string => JSON.stringify(c.length > 20 ? `${c.slice(0, 19)}…` : c)

export const dfCommand: Command = {
  name: 'df',
  group: 'system',
  topLevel: false,
  usage: 'cais system df [OPTIONS]',
  description: 'Show cais disk usage',
  flags: [{ name: 'verbose', short: 'v', type: 'bool' }],
  maxArgs: 0,
  async run(client, p, io) {
    const df = await client.system.df()
    const containers = df.Containers as Array<ContainerSummary & { SizeRw?: number }>
    const cache = df.BuildCache as CacheEntry[]

    // As Docker's CLI: what running containers' images hold beyond what they share is not reclaimable.
    const usedByContainers = df.Images.filter((i) => i.Containers > 0 && i.SharedSize !== -1).reduce((s, i) => s + i.Size - i.SharedSize, 0)
    const containerBytes = containers.reduce((s, c) => s + (c.SizeRw ?? 0), 0)
    const idleContainerBytes = containers.filter((c) => !activeStates.has(c.State)).reduce((s, c) => s + (c.SizeRw ?? 0), 0)
    const volumeSize = (v: (typeof df.Volumes)[number]): number => Math.max(0, v.UsageData?.Size ?? 0)
    const volumeBytes = df.Volumes.reduce((s, v) => s + volumeSize(v), 0)
    const unusedVolumeBytes = df.Volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0).reduce((s, v) => s + volumeSize(v), 0)
    const cacheBytes = cache.filter((e) => !e.Shared).reduce((s, e) => s + e.Size, 0)
    const idleCacheBytes = cache.filter((e) => !e.Shared && !e.InUse).reduce((s, e) => s + e.Size, 0)

    if (!bool(p, 'verbose')) {
      const rows = [
        ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
        ['Images', String(df.Images.length), String(df.Images.filter((i) => i.Containers > 0).length), size4(df.LayersSize), withPercent(Math.max(0, df.LayersSize - usedByContainers), df.LayersSize)],
        ['Containers', String(containers.length), String(containers.filter((c) => activeStates.has(c.State)).length), size4(containerBytes), withPercent(idleContainerBytes, containerBytes)],
        ['Local Volumes', String(df.Volumes.length), String(df.Volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length), size4(volumeBytes), withPercent(unusedVolumeBytes, volumeBytes)],
        ['Build Cache', String(cache.length), String(cache.filter((e) => e.InUse).length), size4(cacheBytes), size4(idleCacheBytes)],
      ]
      for (const line of renderTable(rows)) io.out(line)
      return 0
    }

    const section = (title: string, table: string[][]): void => {
      io.out(`${title}\n`)
      for (const line of renderTable(table)) io.out(line)
      io.out('')
    }
    section('Images space usage:', [
      ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'],
      ...df.Images.flatMap((i) =>
        (i.RepoTags.length ? i.RepoTags : ['<none>:<none>']).map((t) => [
          t.slice(0, t.lastIndexOf(':')),
          t.slice(t.lastIndexOf(':') + 1),
          i.Id.slice(7, 19),
          ago(i.Created * 1000),
          humanSize(i.Size),
          i.SharedSize === -1 ? 'N/A' : size4(i.SharedSize),
          i.SharedSize === -1 ? 'N/A' : size4(i.Size - i.SharedSize),
          String(i.Containers),
        ]),
      ),
    ])
    section('Containers space usage:', [
      ['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'],
      ...containers.map((c) => [
        c.Id.slice(0, 12),
        c.Image,
        quotedCommand(c.Command),
        String((c.Mounts as Array<{ Type?: string }>).filter((m) => m.Type === 'volume').length),
        humanSize(c.SizeRw ?? 0),
        ago(c.Created * 1000),
        c.Status,
        c.Names.map((n) => n.replace(/^\//, '')).join(','),
      ]),
    ])
    section('Local Volumes space usage:', [
      ['VOLUME NAME', 'LINKS', 'SIZE'],
      ...df.Volumes.map((v) => [v.Name, String(v.UsageData?.RefCount ?? 0), size4(volumeSize(v))]),
    ])
    io.out(`Build cache usage: ${size4(cacheBytes)}\n`)
    for (const line of renderTable([
      ['CACHE ID', 'CACHE TYPE', 'SIZE', 'CREATED', 'LAST USED', 'USAGE', 'SHARED'],
      ...lastUsedFirstToLast(cache).map((e) => [
        e.ID.slice(0, 12),
        e.Type,
        humanSize(e.Size),
        ago(Date.parse(e.CreatedAt)),
        e.LastUsedAt ? ago(Date.parse(e.LastUsedAt)) : '',
        String(e.UsageCount),
        String(e.Shared),
      ]),
    ])) io.out(line)
    return 0
  },
}
