import { invalid } from '../lib/errors.ts'
import { readScopedText } from '../lib/scoped-path.ts'

/** Far above any real passwd or group file; a bigger one is refused rather than read into the daemon. */
const maxAccountFileBytes = 16 * 1024 * 1024

export interface ResolvedUser {
  uid: number
  gid: number
  additionalGids: number[]
  home: string
}

/**
 * Resolves `user[:group]` (names or numbers) against the container's /etc/passwd and /etc/group, read inside its
 * root: a symlink there (`/etc/passwd -> /etc/shadow`) points into the container, never at the host's files.
 */
export async function resolveUser(rootfs: string, spec: string, groupAdd: readonly string[] = []): Promise<ResolvedUser> {
  const read = async (file: string): Promise<string[][]> => parseColonFile((await readScopedText(rootfs, file, maxAccountFileBytes)) ?? '')
  const [passwd, groups] = await Promise.all([read('/etc/passwd'), read('/etc/group')])
  const [userPart = '', groupPart] = spec === '' ? ['0'] : spec.split(':')
  let uid: number
  let gid = 0
  let home = '/'
  const entry = passwd.find((p) => p[0] === userPart || (/^\d+$/.test(userPart) && p[2] === userPart))
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart)
    if (entry) {
      gid = Number(entry[3])
      home = entry[5] ?? '/'
    }
  } else if (entry) {
    uid = Number(entry[2])
    gid = Number(entry[3])
    home = entry[5] ?? '/'
  } else {
    throw invalid(`unable to find user ${userPart}: no matching entries in passwd file`)
  }
  if (groupPart !== undefined && groupPart !== '') gid = groupId(groups, groupPart)
  const userName = entry?.[0]
  const additionalGids = groups.filter((g) => userName !== undefined && (g[3] ?? '').split(',').includes(userName)).map((g) => Number(g[2]))
  for (const g of groupAdd) additionalGids.push(groupId(groups, g))
  // The primary group is a supplementary group too (Docker's hardening for CVE-2022-36109: a process that drops
  // to another group must not thereby gain access denied to its primary one).
  return { uid, gid, additionalGids: [...new Set([gid, ...additionalGids])], home }
}

function groupId(groups: string[][], name: string): number {
  if (/^\d+$/.test(name)) return Number(name)
  const g = groups.find((x) => x[0] === name)
  if (!g) throw invalid(`unable to find group ${name}: no matching entries in group file`)
  return Number(g[2])
}

function parseColonFile(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'))
}
