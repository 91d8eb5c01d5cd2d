import { stat } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Command } from '../../command.ts'
import { bool } from '../../flags.ts'
import { packPath } from '../../../lib/tar.ts'
import { unpackLocal } from './cp-tar.ts'

/** `CONTAINER:PATH` or a local path (`-` is a tar on stdin or stdout). */
function splitArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.') || arg === '-') return { path: arg }
  const colon = arg.indexOf(':')
  if (colon <= 0) return { path: arg }
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) || '/' }
}

export const cpCommand: Command = {
  name: 'cp',
  group: 'container',
  usage: 'cais cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tcais cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  description: 'Copy files/folders between a container and the local filesystem',
  flags: [{ name: 'archive', short: 'a', type: 'bool' }, { name: 'follow-link', short: 'L', type: 'bool' }, { name: 'quiet', short: 'q', type: 'bool' }],
  minArgs: 2,
  maxArgs: 2,
  async run(client, p, io) {
    const src = splitArg(p.args[0]!)
    const dst = splitArg(p.args[1]!)
    if (src.container && dst.container) throw new Error('copying between containers is not supported')
    if (!src.container && !dst.container) throw new Error('must specify at least one container source')
    if (src.container) {
      const path = src.path.startsWith('/') ? src.path : `/${src.path}`
      const { stat: st, tar } = await client.containers.getArchive(src.container, path)
      if (dst.path === '-') {
        await pipeline(tar, io.stdout, { end: false })
        return 0
      }
      const local = resolve(dst.path)
      const existing = await stat(local).catch(() => undefined)
      if (existing?.isDirectory()) await unpackLocal(tar, local, path.endsWith('/.') ? undefined : st.name)
      else {
        if (existing && st.mode >= 2 ** 31) throw new Error(`cannot copy a directory to a file: ${dst.path}`)
        const parent = await stat(dirname(local)).catch(() => undefined)
        if (!parent?.isDirectory()) throw new Error(`no such directory: ${dirname(dst.path)}`)
        await unpackLocal(tar, dirname(local), basename(local))
      }
      return 0
    }
    const container = dst.container!
    const target = dst.path.startsWith('/') ? dst.path : `/${dst.path}`
    if (src.path === '-') {
      await client.containers.putArchive(container, target, io.stdin, { copyUIDGID: bool(p, 'archive') })
      return 0
    }
    const local = resolve(src.path)
    await stat(local).catch(() => {
      throw new Error(`lstat ${local}: no such file or directory`)
    })
    let there = await client.containers.statPath(container, target)
    // A symlink to a directory is that directory, as a destination.
    if (there && there.mode & 2 ** 27) there = (await client.containers.statPath(container, `${target.replace(/\/$/, '')}/`)) ?? there
    let into = target
    let name = basename(local)
    if (!there || there.mode < 2 ** 31) {
      // Not an existing directory: the copy takes the destination's name, in its parent directory.
      into = dirname(target)
      name = basename(target)
      const parent = await client.containers.statPath(container, into)
      if (!parent || parent.mode < 2 ** 31) throw new Error(`Could not find the file ${into} in container ${container}`)
    }
    await client.containers.putArchive(container, into, packPath(local, name), { copyUIDGID: bool(p, 'archive') })
    if (!bool(p, 'quiet')) io.err(`Successfully copied to ${container}:${target}`)
    return 0
  },
}
