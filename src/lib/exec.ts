import { spawn } from 'node:child_process'

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs a host tool to completion and collects its output. Never throws for a non-zero exit; callers decide. */
export function execFile(cmd: string, args: readonly string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on('data', (d: Buffer) => out.push(d))
    child.stderr?.on('data', (d: Buffer) => err.push(d))
    child.on('error', reject)
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    )
    if (opts.input !== undefined) child.stdin?.end(opts.input)
  })
}

/** Runs a host tool and throws with its stderr when it fails. */
export async function run(cmd: string, args: readonly string[], opts: { cwd?: string; input?: string } = {}): Promise<string> {
  const r = await execFile(cmd, args, opts)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit status ${r.code}`}`)
  return r.stdout
}

/** Quotes one word for /bin/sh. */
export const shQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`
