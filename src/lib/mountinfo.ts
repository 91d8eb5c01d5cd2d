import { readFile } from 'node:fs/promises'

const escape = (path: string): string => path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`)

/** The mount points in this process's mount namespace (/proc/self/mountinfo), as mountinfo escapes them. */
async function mountPoints(): Promise<Set<string>> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8')
  return new Set(mounts.split('\n').map((line) => line.split(' ')[4]!))
}

/** True when `path` is a mount point in this process's mount namespace. */
export async function isMounted(path: string): Promise<boolean> {
  return (await mountPoints()).has(escape(path))
}

/** Which of `paths` are mount points, read in one pass. */
export async function mountedAmong(paths: string[]): Promise<Set<string>> {
  const points = await mountPoints()
  return new Set(paths.filter((p) => points.has(escape(p))))
}
