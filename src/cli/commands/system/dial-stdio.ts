import type { Command } from '../../command.ts'

/**
 * `cais system dial-stdio`: connects to the daemon and copies stdin to it and its answers to stdout, both ways
 * until each side ends. Run over ssh by `cais -H ssh://…` (and by the docker CLI, as `docker system dial-stdio`).
 */
export const dialStdioCommand: Command = {
  name: 'dial-stdio',
  group: 'system',
  topLevel: false,
  usage: 'cais system dial-stdio',
  description: 'Proxy the stdio stream to the daemon connection. Should not be invoked manually.',
  flags: [],
  maxArgs: 0,
  async run(client, _p, io) {
    const conn = client.http.dial()
    // stdin's end half-closes the connection (pipe ends it); the daemon closing it ends the session.
    await new Promise<void>((resolve, reject) => {
      conn.once('error', reject)
      io.stdin.once('error', reject)
      io.stdin.pipe(conn)
      conn.pipe(io.stdout, { end: false })
      conn.once('end', () => resolve())
      conn.once('close', () => resolve())
    })
    conn.destroy()
    return 0
  },
}
