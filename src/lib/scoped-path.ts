import { constants } from 'node:fs'
import { lstat, open, readlink } from 'node:fs/promises'
import { invalid } from './errors.ts'

const maxLinks = 40

/**
 * Resolves a path inside a tree without ever leaving it: `..` stops at the tree's root, and symlinks, absolute or
 * relative, are followed inside it, as the kernel would inside a container whose root the tree is. `toHost` maps a
 * clean absolute path of the tree to where it is on the host (the tree's root, or a mount over part of it). The
 * last component is followed only with `followLast` (`docker cp` copies a symlink itself, not its target).
 * Returns the host path and the clean path inside the tree it stands for.
 */
export async function resolveScoped(path: string, toHost: (clean: string) => string, followLast: boolean): Promise<{ host: string; inside: string }> {
  const resolved: string[] = []
  const pending = path.split('/').filter((p) => p !== '' && p !== '.')
  let links = 0
  while (pending.length > 0) {
    const part = pending.shift()!
    if (part === '..') {
      resolved.pop()
      continue
    }
    const candidate = [...resolved, part]
    if (pending.length > 0 || followLast) {
      const host = toHost(`/${candidate.join('/')}`)
      const st = await lstat(host).catch(() => undefined)
      if (st?.isSymbolicLink()) {
        if (++links > maxLinks) throw invalid(`too many levels of symbolic links: ${path}`)
        const target = await readlink(host)
        if (target.startsWith('/')) resolved.length = 0
        pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'))
        continue
      }
    }
    resolved.push(part)
  }
  const inside = `/${resolved.join('/')}`
  return { host: toHost(inside), inside }
}

/**
 * Reads a small text file of a tree (a container's /etc/passwd, a build context's Dockerfile), resolved inside it;
 * undefined when it is missing or not a regular file. A file over `maxBytes` is an error rather than a read that
 * could exhaust the daemon.
 */
export async function readScopedText(root: string, path: string, maxBytes: number): Promise<string | undefined> {
  const { host } = await resolveScoped(path, (clean) => `${root.replace(/\/$/, '')}${clean}`, true)
  // O_NOFOLLOW: a last component swapped for a symlink after the resolution is not followed out of the tree.
  const fh = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined)
  if (!fh) return undefined
  try {
    const st = await fh.stat()
    if (!st.isFile()) return undefined
    if (st.size > maxBytes) throw invalid(`${path.replace(/^\//, '')} is ${st.size} bytes, more than the ${maxBytes} read from it`)
    const buf = Buffer.alloc(st.size)
    const { bytesRead } = await fh.read(buf, 0, st.size, 0)
    return buf.subarray(0, bytesRead).toString('utf8')
  } finally {
    await fh.close()
  }
}
