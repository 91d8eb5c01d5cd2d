import { posix } from 'node:path'
import type { ImageConfig, ImageRuntimeConfig } from '../images/types.ts'
import { invalid } from '../lib/errors.ts'
import { parseGoDuration } from '../lib/time.ts'
import type { HealthConfig } from '../wire/types.ts'
import { type Instruction, parseJsonForm } from './dockerfile/parser.ts'
import { type Lookup, expandPairs, expandWord, expandWords } from './dockerfile/shell-words.ts'

/** What a metadata instruction needs: how to expand, and the stage's shell. */
export interface MetadataScope {
  lookup: Lookup
  escape: string
  shell: string[]
  /** Whether a CMD came earlier in this stage (an ENTRYPOINT then keeps it; an inherited one it resets). */
  cmdSet: boolean
}

/** The instructions that change only the image config: they run no container and add no layer. */
export const METADATA = new Set(['ENV', 'LABEL', 'EXPOSE', 'CMD', 'ENTRYPOINT', 'USER', 'WORKDIR', 'VOLUME', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL', 'ONBUILD', 'MAINTAINER'])

/**
 * Applies a metadata instruction to a config (changed in place). Returns the text its history entry records
 * after `#(nop)`, with arguments as expanded (so a changed build argument changes the step).
 */
export function applyMetadata(image: ImageConfig, c: ImageRuntimeConfig, instr: Instruction, scope: MetadataScope): string {
  const { lookup, escape } = scope
  const rest = instr.rest
  const allowedFlags = instr.keyword === 'HEALTHCHECK' ? ['interval', 'timeout', 'start-period', 'start-interval', 'retries'] : []
  for (const f of instr.flags) if (!allowedFlags.includes(f.name)) throw invalid(`unknown flag: --${f.name}`)
  switch (instr.keyword) {
    case 'ENV': {
      const pairs = expandPairs(rest, lookup, escape, { valueRequired: true, instruction: 'ENV' })
      for (const [k, v] of pairs) c.Env = [...(c.Env ?? []).filter((e) => e.split('=')[0] !== k), `${k}=${v ?? ''}`]
      return `ENV ${pairs.map(([k, v]) => `${k}=${v ?? ''}`).join(' ')}`
    }
    case 'LABEL': {
      const pairs = expandPairs(rest, lookup, escape, { valueRequired: true, instruction: 'LABEL' })
      c.Labels = { ...c.Labels, ...Object.fromEntries(pairs.map(([k, v]) => [k, v ?? ''])) }
      return `LABEL ${pairs.map(([k, v]) => `${k}=${v ?? ''}`).join(' ')}`
    }
    case 'MAINTAINER': {
      image.author = expandWord(rest, lookup, escape)
      return `MAINTAINER ${image.author}`
    }
    case 'EXPOSE': {
      const ports = expandWords(rest, lookup, escape)
      if (ports.length === 0) throw invalid('EXPOSE requires at least one argument')
      for (const p of ports.flatMap(expandPortRange)) c.ExposedPorts = { ...c.ExposedPorts, [p]: {} }
      return `EXPOSE ${ports.flatMap(expandPortRange).join(' ')}`
    }
    case 'CMD':
    case 'ENTRYPOINT': {
      const value = commandOf(rest, scope.shell)
      if (instr.keyword === 'CMD') c.Cmd = value
      else {
        c.Entrypoint = value
        // A new ENTRYPOINT resets a CMD inherited from the base image, as Docker does.
        if (!scope.cmdSet) c.Cmd = null
      }
      return `${instr.keyword} ${JSON.stringify(value)}`
    }
    case 'USER': {
      const user = expandWord(rest, lookup, escape)
      if (user === '') throw invalid('USER requires exactly one argument')
      c.User = user
      return `USER ${user}`
    }
    case 'WORKDIR': {
      const dir = expandWord(rest, lookup, escape)
      if (dir === '') throw invalid('WORKDIR requires exactly one argument')
      c.WorkingDir = posix.resolve(c.WorkingDir || '/', dir)
      return `WORKDIR ${c.WorkingDir}`
    }
    case 'VOLUME': {
      const json = parseJsonForm(rest)
      const volumes = json ? json.map((v) => expandWord(v, lookup, escape)) : expandWords(rest, lookup, escape)
      if (volumes.length === 0 || volumes.some((v) => v.trim() === '')) throw invalid('VOLUME specified can not be an empty string')
      for (const v of volumes) c.Volumes = { ...c.Volumes, [v]: {} }
      return `VOLUME ${JSON.stringify(volumes)}`
    }
    case 'STOPSIGNAL': {
      const signal = expandWord(rest, lookup, escape)
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(signal)) throw invalid(`Invalid signal: ${signal}`)
      c.StopSignal = signal
      return `STOPSIGNAL ${signal}`
    }
    case 'HEALTHCHECK': {
      c.Healthcheck = healthcheckOf(instr)
      return `HEALTHCHECK &{${JSON.stringify(c.Healthcheck)}}`
    }
    case 'SHELL': {
      const shell = parseJsonForm(rest)
      if (!shell || shell.length === 0) throw invalid('SHELL requires the arguments to be in JSON form')
      c.Shell = shell
      return `SHELL ${JSON.stringify(shell)}`
    }
    case 'ONBUILD': {
      const trigger = /^\s*(\S+)/.exec(rest)?.[1]?.toUpperCase()
      if (!trigger) throw invalid('ONBUILD requires at least one argument')
      if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(trigger)) throw invalid(`${trigger} isn't allowed as an ONBUILD trigger`)
      c.OnBuild = [...(c.OnBuild ?? []), rest]
      return `ONBUILD ${rest}`
    }
  }
  throw new Error(`not a metadata instruction: ${instr.keyword}`)
}

/** CMD, ENTRYPOINT and RUN: the JSON form as written, or the shell form wrapped in the stage's shell. */
export function commandOf(rest: string, shell: readonly string[]): string[] {
  return parseJsonForm(rest) ?? [...shell, rest]
}

function expandPortRange(port: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(port)
  if (!m) throw invalid(`Invalid containerPort: ${port}`)
  const proto = (m[3] ?? 'tcp').toLowerCase()
  const start = Number(m[1])
  const end = m[2] === undefined ? start : Number(m[2])
  if (end < start || end > 65535) throw invalid(`Invalid port range: ${port}`)
  const out: string[] = []
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`)
  return out
}

function healthcheckOf(instr: Instruction): HealthConfig {
  const words = /^\s*(\S+)\s*([\s\S]*)$/.exec(instr.rest)
  const kind = words?.[1]?.toUpperCase()
  if (kind === 'NONE') {
    if (instr.flags.length > 0 || words![2] !== '') throw invalid('HEALTHCHECK NONE takes no arguments')
    return { Test: ['NONE'] }
  }
  if (kind !== 'CMD') throw invalid('Unknown type "' + (words?.[1] ?? '') + '" in HEALTHCHECK (try CMD)')
  const cmdText = words![2]!
  if (cmdText.trim() === '') throw invalid('Missing command after HEALTHCHECK CMD')
  const json = parseJsonForm(cmdText)
  const hc: HealthConfig = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', cmdText] }
  for (const f of instr.flags) {
    if (f.name === 'retries') {
      const n = Number(f.value)
      if (!Number.isInteger(n) || n < 0) throw invalid(`--retries must be a non-negative integer, got ${f.value ?? ''}`)
      hc.Retries = n
      continue
    }
    const ms = parseGoDuration(f.value ?? '')
    if (ms === undefined) throw invalid(`time: invalid duration "${f.value ?? ''}" in --${f.name}`)
    if (ms !== 0 && ms < 1) throw invalid(`Interval "${f.name}" cannot be less than 1ms`)
    const ns = Math.round(ms * 1e6)
    if (f.name === 'interval') hc.Interval = ns
    else if (f.name === 'timeout') hc.Timeout = ns
    else if (f.name === 'start-period') hc.StartPeriod = ns
    else hc.StartInterval = ns
  }
  return hc
}
