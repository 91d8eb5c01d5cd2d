import { spawn } from 'node:child_process'
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import type { Writable } from 'node:stream'

/**
 * A writer into a container's stdin through conmon's attach socket (`<bundle>/attach`). That socket is
 * SOCK_SEQPACKET, which Node cannot open, so socat (Debian's) relays: bytes written here reach the container;
 * ending the stream shuts the socket down, which conmon passes on as end of file. What conmon sends back on the
 * socket (the output, which caisd reads from the log) is drained and dropped, so conmon never blocks on it.
 */
export function openStdin(bundle: string): { input: Writable; closed: Promise<void> } {
  const child = spawn('socat', ['-t', '5', 'STDIO', `UNIX-CONNECT:${join(bundle, 'attach')},type=5`], { stdio: ['pipe', 'pipe', 'ignore'] })
  child.stdout.resume()
  child.stdin.on('error', () => {}) // the container may be gone before its input is
  const closed = new Promise<void>((resolve) => {
    child.on('close', () => resolve())
    child.on('error', () => resolve())
  })
  return { input: child.stdin, closed }
}

/** Resizes a container's terminal through conmon's control fifo (`1 <height> <width>`). */
export async function resizeTerminal(bundle: string, height: number, width: number): Promise<void> {
  // O_NONBLOCK: fail at once rather than hang when no conmon reads the fifo.
  const fh = await open(join(bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK)
  try {
    await fh.write(`1 ${height} ${width}\n`)
  } finally {
    await fh.close()
  }
}
