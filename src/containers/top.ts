import { readFile } from 'node:fs/promises'
import { invalid } from '../lib/errors.ts'
import { execFile } from '../lib/exec.ts'

/**
 * `docker top`: the host's `ps` with the caller's arguments, only the rows of the container's processes (the
 * PIDs of its cgroup, v1 pids hierarchy or v2). The last column keeps its spaces (a command line).
 */
export async function processesOf(containerId: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
  const procs = await readFile(`/sys/fs/cgroup/pids/cais/${containerId}/cgroup.procs`, 'utf8')
    .catch(() => readFile(`/sys/fs/cgroup/cais/${containerId}/cgroup.procs`, 'utf8'))
    .catch(() => '')
  const pids = new Set(procs.split('\n').filter(Boolean))
  const r = await execFile('ps', psArgs.split(/\s+/).filter(Boolean))
  if (r.code !== 0) throw invalid(`ps: ${r.stderr.trim() || 'failed'}`)
  const [header = '', ...lines] = r.stdout.trimEnd().split('\n')
  const titles = header.trim().split(/\s+/)
  const pidColumn = titles.indexOf('PID')
  if (pidColumn < 0) throw invalid(`Couldn't find PID field in ps output`)
  const processes = lines
    .map((l) => {
      const fields = l.trim().split(/\s+/)
      return [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]
    })
    .filter((f) => pids.has(f[pidColumn] ?? ''))
  return { Titles: titles, Processes: processes }
}
