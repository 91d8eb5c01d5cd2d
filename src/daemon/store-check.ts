import type { StoreProblem } from '../store/records.ts'
import type { StoreCheckReport } from '../wire/types.ts'

/** One part of the store checking itself; `repair` names the root that `broken/` goes under. */
export type StoreCheck = (repair: { root: string } | undefined) => Promise<{ checked: number; problems: StoreProblem[] }>

/**
 * `system check`: every part of the store checks itself, in the order that lets a repair of one show in the next
 * (blobs set aside before the images that name them are checked).
 */
export async function checkStore(root: string, parts: Record<string, StoreCheck>, repair: boolean): Promise<StoreCheckReport> {
  const report: StoreCheckReport = { Checked: {}, Problems: [] }
  for (const [name, check] of Object.entries(parts)) {
    const { checked, problems } = await check(repair ? { root } : undefined)
    report.Checked[name] = checked
    for (const p of problems) report.Problems.push({ Object: p.object, ID: p.id, Problem: p.problem, ...(p.repaired ? { Repaired: p.repaired } : {}) })
  }
  return report
}
