import type { Command } from '../../command.ts'
import { bool } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'
import { humanSize } from '../../../lib/size.ts'

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
    const activeImages = df.Images.filter((i) => i.Containers > 0)
    const unusedImageBytes = df.Images.filter((i) => i.Containers === 0).reduce((s, i) => s + i.Size, 0)
    const volumeBytes = df.Volumes.reduce((s, v) => s + Math.max(0, v.UsageData?.Size ?? 0), 0)
    const unusedVolumeBytes = df.Volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0).reduce((s, v) => s + Math.max(0, v.UsageData?.Size ?? 0), 0)
    const pct = (part: number, whole: number): string => (whole > 0 ? ` (${Math.round((part / whole) * 100)}%)` : '')
    const rows = [
      ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
      ['Images', String(df.Images.length), String(activeImages.length), humanSize(df.LayersSize), humanSize(unusedImageBytes) + pct(unusedImageBytes, df.LayersSize)],
      ['Containers', String(df.Containers.length), String(df.Containers.filter((c) => c.State === 'running').length), '0B', '0B'],
      ['Local Volumes', String(df.Volumes.length), String(df.Volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length), humanSize(volumeBytes), humanSize(unusedVolumeBytes) + pct(unusedVolumeBytes, volumeBytes)],
      ['Build Cache', '0', '0', '0B', '0B'],
    ]
    if (!bool(p, 'verbose')) {
      for (const line of renderTable(rows)) io.out(line)
      return 0
    }
    io.out('Images space usage:\n')
    for (const line of renderTable([['REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE', 'CONTAINERS'], ...df.Images.flatMap((i) =>
      (i.RepoTags.length ? i.RepoTags : ['<none>:<none>']).map((t) => [t.slice(0, t.lastIndexOf(':')), t.slice(t.lastIndexOf(':') + 1), i.Id.slice(7, 19), humanSize(i.Size), String(i.Containers)]),
    )])) io.out(line)
    io.out('\nLocal Volumes space usage:\n')
    for (const line of renderTable([['VOLUME NAME', 'LINKS', 'SIZE'], ...df.Volumes.map((v) => [v.Name, String(v.UsageData?.RefCount ?? 0), humanSize(Math.max(0, v.UsageData?.Size ?? 0))])])) io.out(line)
    return 0
  },
}
