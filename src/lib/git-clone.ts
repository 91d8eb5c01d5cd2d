import { join, resolve, sep } from 'node:path'
import { execFile } from './exec.ts'

/** Whether a build context names a git repository, as Docker tells them apart. */
export const isGitUrl = (url: string): boolean => /^(git@|git:\/\/)/.test(url) || /\.git(#.*)?$/.test(url)

/**
 * Clones `URL[#ref[:subdir]]` shallow into `<dir>/repo` and returns the directory the context is in. Throws with
 * git's own words when the clone fails.
 */
export async function cloneContext(url: string, dir: string): Promise<string> {
  const [repo, fragment = ''] = url.split('#')
  const [ref, subdir = ''] = fragment.split(':')
  const target = join(dir, 'repo')
  const r = await execFile('git', ['clone', '--depth', '1', '--recurse-submodules', ...(ref ? ['--branch', ref] : []), repo!, target])
  if (r.code !== 0) throw new Error(`unable to prepare context: unable to 'git clone' to temporary context directory: ${r.stderr.trim()}`)
  const root = resolve(target, subdir)
  if (root !== target && !root.startsWith(target + sep)) throw new Error(`unable to prepare context: the subdirectory ${subdir} leaves the repository`)
  return root
}
