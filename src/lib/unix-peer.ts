import { execFile } from 'node:child_process'
import { readFile, readlink } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The process at the other end of a unix socket connection. */
export interface UnixPeer {
  pid: number
  uid: number
  command: string
}

const peers = new WeakMap<Socket, Promise<UnixPeer | undefined>>()

/**
 * Who is at the other end of an accepted unix socket connection, as SO_PEERCRED would say, which Node does not
 * expose: the connection's inode (from its descriptor), its peer's inode and the process holding that one (from
 * the kernel's socket table, read by `ss`), and that process's real uid. Looked up once per connection, and only
 * when asked (the audit of a mutating call). Undefined when it cannot be told: a peer in another network namespace,
 * one already gone, or no `ss`.
 */
export function unixPeerOf(socket: Socket): Promise<UnixPeer | undefined> {
  let found = peers.get(socket)
  if (!found) {
    found = lookUp(socket).catch(() => undefined)
    peers.set(socket, found)
  }
  return found
}

async function lookUp(socket: Socket): Promise<UnixPeer | undefined> {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) return undefined
  const own = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/self/fd/${fd}`))?.[1]
  if (!own) return undefined
  const { stdout: table } = await run('ss', ['-x', '-p', '-n', '-H'], { maxBuffer: 64 * 1024 * 1024 })
  // Each line: netid state recv-q send-q local-address local-inode peer-address peer-inode [users:((…))].
  const rows = table.split('\n').map((line) => line.trim().split(/\s+/))
  const peerInode = rows.find((r) => r[5] === own)?.[7]
  const peerRow = rows.find((r) => r[5] === peerInode && r[7] === own)
  const user = /users:\(\("((?:[^"\\]|\\.)*)",pid=(\d+),/.exec(peerRow?.slice(8).join(' ') ?? '')
  if (!user) return undefined
  const pid = Number(user[2])
  const uid = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]
  return uid === undefined ? undefined : { pid, uid: Number(uid), command: user[1]! }
}
