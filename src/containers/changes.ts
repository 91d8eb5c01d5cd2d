import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/** One filesystem change of a container: Kind 0 = modified, 1 = added, 2 = deleted (as `docker diff`). */
export interface Change {
  Path: string
  Kind: 0 | 1 | 2
}

/** Compares a container's writable layer with its image's layers (top first). */
export async function containerChanges(upper: string, lowers: readonly string[]): Promise<Change[]> {
  const out: Change[] = []
  const inLower = async (rel: string): Promise<boolean> => {
    for (const l of lowers) if (await lstat(join(l, rel)).then(() => true, () => false)) return true
    return false
  }
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(upper, rel))).sort()) {
      const path = `${rel}/${name}`
      const st = await lstat(join(upper, path))
      // an overlay whiteout: a character device 0/0
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ Path: path, Kind: 2 })
        continue
      }
      out.push({ Path: path, Kind: (await inLower(path)) ? 0 : 1 })
      if (st.isDirectory()) await walk(path)
    }
  }
  await walk('')
  return out
}
