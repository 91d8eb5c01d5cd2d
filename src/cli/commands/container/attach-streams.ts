import type { Duplex } from 'node:stream'
import type { StreamChunk } from '../../../client/streams.ts'
import type { Io } from '../../io.ts'

interface TtyIn {
  isTTY?: boolean
  setRawMode?(raw: boolean): void
}
interface TtyOut {
  isTTY?: boolean
  rows?: number
  columns?: number
}

/** Sets the size of the container's (or the exec's) terminal. */
export type ResizeTerminal = (height: number, width: number) => Promise<void>

/**
 * Connects the terminal to an attached container or exec: output to stdout/stderr, and with `stdin` what the user
 * types to it (its end of input half-closes the connection, as the docker CLI does). With a TTY on both sides the
 * local terminal goes raw and, from `started()`, its size is sent on and followed. `done` resolves when output ends.
 */
export function connectStreams(
  resizeTerminal: ResizeTerminal,
  attached: { output: AsyncGenerator<StreamChunk>; socket: Duplex },
  io: Io,
  opts: { stdin: boolean; tty: boolean },
): { done: Promise<void>; started(): Promise<void> } {
  // Not touched without `stdin`: the process's stdin is opened on first use.
  const stdin = opts.stdin ? (io.stdin as typeof io.stdin & TtyIn) : undefined
  const raw = stdin !== undefined && opts.tty && stdin.isTTY === true && typeof stdin.setRawMode === 'function'
  if (raw) stdin.setRawMode!(true)
  if (stdin) {
    stdin.on('data', (chunk: Buffer) => attached.socket.write(chunk))
    stdin.once('end', () => attached.socket.end())
  }
  const out = io.stdout as typeof io.stdout & TtyOut
  const resize = (): void => {
    if (out.rows && out.columns) void resizeTerminal(out.rows, out.columns).catch(() => {})
  }
  const done = (async () => {
    try {
      for await (const chunk of attached.output) (chunk.stream === 'stderr' ? io.stderr : io.stdout).write(chunk.data)
    } catch {
      // the connection went: output is over
    } finally {
      if (raw) stdin.setRawMode!(false)
      // Nothing more to send: let go of the terminal or pipe, so the process can exit.
      stdin?.destroy()
      process.off('SIGWINCH', resize)
    }
  })()
  return {
    done,
    started: async () => {
      if (opts.tty && out.isTTY) {
        resize()
        process.on('SIGWINCH', resize)
      }
    },
  }
}
