import type { Command } from '../../command.ts'
import { bool, str } from '../../flags.ts'

export const checkCommand: Command = {
  name: 'check',
  group: 'system',
  topLevel: false,
  usage: 'cais system check [OPTIONS]',
  description: "Check the daemon's store: blobs against their digests, layers, images, containers, volumes, networks",
  flags: [
    { name: 'repair', type: 'bool' },
    { name: 'format', short: 'f', type: 'string' },
  ],
  maxArgs: 0,
  async run(client, p, io) {
    const report = await client.system.check({ repair: bool(p, 'repair') })
    if (str(p, 'format') === 'json') io.out(JSON.stringify(report))
    else {
      io.out(`Checked: ${Object.entries(report.Checked).map(([part, n]) => `${n} ${part.toLowerCase()}`).join(', ')}`)
      for (const problem of report.Problems) {
        io.out(`${problem.Object} ${problem.ID}: ${problem.Problem}`)
        if (problem.Repaired) io.out(`  repaired: ${problem.Repaired}`)
      }
      const left = report.Problems.filter((x) => !x.Repaired).length
      io.out(report.Problems.length === 0 ? 'No problems found' : `${report.Problems.length} problem${report.Problems.length === 1 ? '' : 's'}, ${left} left${left > 0 && !bool(p, 'repair') ? " (--repair mends what it can without losing data)" : ''}`)
    }
    return report.Problems.some((x) => !x.Repaired) ? 1 : 0
  },
}
