import type { Readable } from 'node:stream'
import { execFile, shQuote } from '../lib/exec.ts'
import { type PackMarkers, extractTar, packDirectory } from '../lib/tar.ts'

/**
 * Layer tars as image layers mark deletions, against overlayfs as it stores them: `.wh.NAME` is a 0/0 character
 * device named NAME, and `.wh..wh..opq` is the `trusted.overlay.opaque=y` attribute of its directory.
 */
const WHITEOUT = '.wh.'
const OPAQUE = '.wh..wh..opq'

export interface ApplyResult {
  /** Bytes of regular files written. */
  size: number
}

/** Unpacks one layer tar into `dir` as an overlayfs layer, whiteouts and opaque directories converted. */
export function applyLayerTar(source: Readable, dir: string): Promise<ApplyResult> {
  return extractTar(source, dir, {
    intercept: ({ base, parent }) => {
      if (base === OPAQUE) return { xattr: { path: parent, name: 'trusted.overlay.opaque', value: '"y"' } }
      if (base.startsWith(WHITEOUT)) {
        const hidden = `${parent}/${base.slice(WHITEOUT.length)}`
        return { shell: `rm -rf ${shQuote(hidden)} && mknod ${shQuote(hidden)} c 0 0` }
      }
      return undefined
    },
  })
}

/** Packs an overlay upper dir (a container's writable layer) as a layer tar, its whiteouts and opaque marks converted. */
export function packLayer(upper: string, opts: { signal?: AbortSignal; clampMtime?: Date } = {}): Readable {
  return packDirectory(upper, { ...opts, markers: overlayMarkers() })
}

function overlayMarkers(): PackMarkers {
  let opaque = new Set<string>()
  return {
    prepare: async (root) => {
      opaque = await opaqueDirs(root)
    },
    markersIn: (rel) => (rel !== '' && opaque.has(rel) ? [OPAQUE] : []),
    markerFor: (name, st) => (st.isCharacterDevice() && st.rdev === 0 ? `${WHITEOUT}${name}` : undefined),
  }
}

/** Relative paths of directories under `root` that overlayfs marks opaque. */
async function opaqueDirs(root: string): Promise<Set<string>> {
  // Node has no xattr API; getfattr (package attr) dumps only the matching attribute, recursively.
  const r = await execFile('getfattr', ['-R', '-h', '--absolute-names', '-d', '-m', '^trusted\\.overlay\\.opaque$', root])
  const out = new Set<string>()
  let current: string | undefined
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) current = line.slice('# file: '.length)
    else if (current !== undefined && /^trusted\.overlay\.opaque="y"$/.test(line) && current.startsWith(`${root}/`)) out.add(current.slice(root.length + 1))
  }
  return out
}
