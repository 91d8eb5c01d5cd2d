import type { Readable, Writable } from 'node:stream'

/** Where a command reads and writes; tests pass buffers, main passes the process's streams. */
export interface Io {
  out(line: string): void
  err(line: string): void
  stdout: Writable
  stderr: Writable
  stdin: Readable
}

export function processIo(): Io {
  // A closed pipe (`cais logs x | head`) ends output quietly, as for any Unix tool.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
      throw err
    })
  }
  return {
    out: (line) => process.stdout.write(line + '\n'),
    err: (line) => process.stderr.write(line + '\n'),
    stdout: process.stdout,
    stderr: process.stderr,
    // Made on first use: most commands never read it, and opening it costs a start ~1 ms.
    get stdin() {
      return process.stdin
    },
  }
}
