import { readFileSync } from 'node:fs'
import { open, readFile, rm } from 'node:fs/promises'
import { isErrno } from '../lib/errors.ts'

/**
 * Claims the pid file with O_EXCL. A file left by a daemon that died (SIGKILL) names a dead PID,
 * or one that is not caisd any more, and is taken over.
 */
export async function claimPidFile(path: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644)
      await fh.writeFile(`${process.pid}\n`)
      await fh.close()
      return
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err
    }
    const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10)
    if (pid && pid !== process.pid && isCaisd(pid)) {
      throw new Error(`pid file found, ensure caisd is not running or delete ${path}: another caisd (pid ${pid}) is using this --root`)
    }
    await rm(path, { force: true })
  }
  throw new Error(`could not claim pid file ${path}`)
}

function isCaisd(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return cmdline.includes('caisd') || cmdline.includes('daemon/main')
  } catch {
    return true
  }
}

export async function releasePidFile(path: string): Promise<void> {
  const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10)
  if (pid === process.pid) await rm(path, { force: true })
}
