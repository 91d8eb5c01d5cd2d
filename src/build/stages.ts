import { invalid } from '../lib/errors.ts'
import type { Dockerfile, Instruction } from './dockerfile/parser.ts'
import { type Lookup, expandWords } from './dockerfile/shell-words.ts'

/** One `FROM` and the instructions up to the next. */
export interface Stage {
  index: number
  /** `FROM … AS name`, lower case. */
  name: string | undefined
  /** The base as expanded: an image reference, `scratch`, or an earlier stage's name or index. */
  base: string
  platform: string | undefined
  from: Instruction
  instructions: Instruction[]
}

export interface StagePlan {
  /** ARG instructions before the first FROM. */
  globalArgs: Instruction[]
  stages: Stage[]
}

/** Splits a Dockerfile into stages; `globalLookup` expands FROM lines (global ARGs and build arguments). */
export function planStages(df: Dockerfile, globalLookup: (declared: Instruction[]) => Lookup): StagePlan {
  const globalArgs: Instruction[] = []
  const stages: Stage[] = []
  for (const instr of df.instructions) {
    if (instr.keyword === 'FROM') {
      const lookup = globalLookup(globalArgs)
      const words = expandWords(instr.rest, lookup, df.escape)
      if (words.length !== 1 && !(words.length === 3 && words[1]!.toLowerCase() === 'as')) {
        throw invalid(`FROM requires either one or three arguments (line ${instr.line})`)
      }
      if (words[0] === '') throw invalid(`base name (${instr.rest}) should not be blank (line ${instr.line})`)
      const name = words[2]?.toLowerCase()
      if (name !== undefined) {
        if (!/^[a-z][a-z0-9-_.]*$/.test(name)) throw invalid(`invalid name for build stage: "${words[2]!}", name can't start with a number or contain symbols`)
        if (stages.some((s) => s.name === name)) throw invalid(`duplicate stage name "${name}" (line ${instr.line})`)
      }
      let platform: string | undefined
      for (const f of instr.flags) {
        if (f.name !== 'platform') throw invalid(`unknown flag: --${f.name} (line ${instr.line})`)
        platform = expandWords(f.value ?? '', lookup, df.escape).join(' ')
      }
      stages.push({ index: stages.length, name, base: words[0]!, platform, from: instr, instructions: [] })
    } else if (stages.length === 0) {
      if (instr.keyword !== 'ARG') throw invalid(`no build stage in current context: ${instr.keyword} comes before the first FROM (line ${instr.line})`)
      globalArgs.push(instr)
    } else stages.at(-1)!.instructions.push(instr)
  }
  if (stages.length === 0) throw invalid('the Dockerfile (Dockerfile) cannot be empty: it needs a FROM instruction')
  return { globalArgs, stages }
}

/** The stage a name or index refers to, if it is one (else the name is an image). */
export function stageNamed(stages: readonly Stage[], ref: string, before = Number.POSITIVE_INFINITY): Stage | undefined {
  const lower = ref.toLowerCase()
  const byName = stages.find((s) => s.name === lower && s.index < before)
  if (byName) return byName
  if (/^\d+$/.test(ref)) {
    const n = Number(ref)
    if (n < before && n < stages.length) return stages[n]
  }
  return undefined
}

/** The stages the target needs, in a valid order (a stage's dependencies before it); the target is last. */
export function neededStages(plan: StagePlan, target: string | undefined, dependenciesOf: (s: Stage) => string[]): Stage[] {
  const last = plan.stages.at(-1)!
  const targetStage = target ? plan.stages.find((s) => s.name === target.toLowerCase()) : last
  if (!targetStage) throw invalid(`failed to reach build target ${target ?? ''} in Dockerfile`)
  const out: Stage[] = []
  const seen = new Set<number>()
  const visit = (s: Stage): void => {
    if (seen.has(s.index)) return
    seen.add(s.index)
    for (const dep of dependenciesOf(s)) {
      const d = stageNamed(plan.stages, dep, s.index)
      if (d) visit(d)
    }
    out.push(s)
  }
  visit(targetStage)
  return out
}
