import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isMounted } from '../lib/mountinfo.ts'
import { run } from '../lib/exec.ts'
import type { Logger } from '../lib/log.ts'

/** The crun that caisd runs, and what to add to its environment. */
export interface CrunBinary {
  path: string
  env: Record<string, string>
}

/**
 * crun copies itself into a sealed memfd and runs that copy at every start (CVE-2019-5736: a container must not
 * be able to overwrite the host's runtime through /proc/self/exe). A read-only bind mount of the binary guards it
 * as well, and crun skips the copy when it runs from one with `_LIBCONTAINER_CLONED_BINARY` set: ~1.7 ms off every
 * `crun create` and `crun exec`. The mount is made afresh at each start (a crun upgraded meanwhile is the one
 * used); where it cannot be made, crun runs as it is.
 */
export async function readOnlyCrun(crun: string, dir: string, log: Logger): Promise<CrunBinary> {
  const target = join(dir, 'bin', 'crun')
  try {
    await mkdir(join(dir, 'bin'), { recursive: true, mode: 0o700 })
    await releaseReadOnlyCrun(target)
    await writeFile(target, '', { mode: 0o700 })
    await run('mount', ['--bind', crun, target])
    await run('mount', ['-o', 'remount,ro,bind', target])
    return { path: target, env: { _LIBCONTAINER_CLONED_BINARY: '1' } }
  } catch (err) {
    log.warn('crun runs without a read-only bind mount (it copies itself at every start)', { err })
    await releaseReadOnlyCrun(target).catch(() => {})
    return { path: crun, env: {} }
  }
}

export async function releaseReadOnlyCrun(target: string): Promise<void> {
  if (await isMounted(target)) await run('umount', ['-l', target])
  await rm(target, { force: true })
}
