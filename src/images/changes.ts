import { invalid } from '../lib/errors.ts'
import type { ImageRuntimeConfig } from './types.ts'

const allowed = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']

/** Applies `--change` Dockerfile instructions (import, commit) to an image's runtime config. */
export function applyChanges(base: ImageRuntimeConfig, changes: readonly string[]): ImageRuntimeConfig {
  const c: ImageRuntimeConfig = structuredClone(base)
  for (const line of changes) {
    const m = /^\s*(\S+)\s*(.*)$/s.exec(line)
    if (!m) continue
    const instr = m[1]!.toUpperCase()
    const rest = m[2]!.trim()
    if (!allowed.includes(instr)) throw invalid(`${instr} is not a valid change command`)
    switch (instr) {
      case 'CMD':
        c.Cmd = execOrShell(rest)
        break
      case 'ENTRYPOINT':
        c.Entrypoint = execOrShell(rest)
        break
      case 'ENV':
        for (const [k, v] of keyValues(rest)) c.Env = [...(c.Env ?? []).filter((e) => !e.startsWith(`${k}=`)), `${k}=${v}`]
        break
      case 'LABEL':
        c.Labels = { ...c.Labels, ...Object.fromEntries(keyValues(rest)) }
        break
      case 'EXPOSE':
        for (const p of rest.split(/\s+/)) c.ExposedPorts = { ...c.ExposedPorts, [p.includes('/') ? p : `${p}/tcp`]: {} }
        break
      case 'VOLUME':
        for (const v of rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/)) c.Volumes = { ...c.Volumes, [v]: {} }
        break
      case 'USER':
        c.User = rest
        break
      case 'WORKDIR':
        c.WorkingDir = rest
        break
      case 'STOPSIGNAL':
        c.StopSignal = rest
        break
      case 'ONBUILD':
        c.OnBuild = [...(c.OnBuild ?? []), rest]
        break
    }
  }
  return c
}

function execOrShell(rest: string): string[] {
  if (rest.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(rest)
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed
    } catch {
      // not JSON: shell form, as Docker
    }
  }
  return ['/bin/sh', '-c', rest]
}

function keyValues(rest: string): Array<[string, string]> {
  if (!rest.includes('=')) {
    const [k, ...v] = rest.split(/\s+/)
    return [[k!, v.join(' ')]]
  }
  const out: Array<[string, string]> = []
  for (const m of rest.matchAll(/([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const raw = m[2]!
    out.push([m[1]!, raw.startsWith('"') ? (JSON.parse(raw) as string) : raw])
  }
  return out
}
