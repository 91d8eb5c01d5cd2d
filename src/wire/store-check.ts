import type { StoreCheckReport } from './types.ts'

/** A store check as lines of text, for `cais system check` and `caisd --check-store`. */
export function describeStoreCheck(report: StoreCheckReport, repaired: boolean): string[] {
  const lines = [`Checked: ${Object.entries(report.Checked).map(([part, n]) => `${n} ${part.toLowerCase()}`).join(', ')}`]
  for (const problem of report.Problems) {
    lines.push(`${problem.Object} ${problem.ID}: ${problem.Problem}`)
    if (problem.Repaired) lines.push(`  repaired: ${problem.Repaired}`)
  }
  const left = report.Problems.filter((x) => !x.Repaired).length
  const n = report.Problems.length
  lines.push(n === 0 ? 'No problems found' : `${n} problem${n === 1 ? '' : 's'}, ${left} left${left > 0 && !repaired ? ' (--repair mends what it can without losing data)' : ''}`)
  return lines
}

/** The exit code of a check: 1 while any problem is left unmended. */
export const storeCheckStatus = (report: StoreCheckReport): number => (report.Problems.some((x) => !x.Repaired) ? 1 : 0)
