import { createInterface } from 'node:readline/promises'
import type { Command } from '../../command.ts'
import { bool, str } from '../../flags.ts'
import type { Io } from '../../io.ts'
import { credentialsFor, registryKeyOfServer, saveCredentials, configPath } from '../../registry-auth.ts'

export const loginCommand: Command = {
  name: 'login',
  group: 'none',
  usage: 'cais login [OPTIONS] [SERVER]',
  description: 'Authenticate to a registry',
  flags: [
    { name: 'username', short: 'u', type: 'string' },
    { name: 'password', short: 'p', type: 'string' },
    { name: 'password-stdin', type: 'bool' },
  ],
  maxArgs: 1,
  async run(client, p, io) {
    const server = p.args[0]
    const key = registryKeyOfServer(server)
    let username = str(p, 'username')
    let password = str(p, 'password')
    if (bool(p, 'password-stdin')) {
      if (password !== undefined) throw new Error('--password and --password-stdin are mutually exclusive')
      if (!username) throw new Error('Must provide --username with --password-stdin')
      password = (await readAll(io)).replace(/\r?\n$/, '')
    } else if (password !== undefined) {
      io.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.')
    }
    if (username === undefined || password === undefined) {
      const stored = await credentialsFor(key)
      if (!(io.stdin as { isTTY?: boolean }).isTTY) {
        throw new Error('Cannot perform an interactive login from a non TTY device')
      }
      username ??= await prompt(io, `Username${stored?.username ? ` (${stored.username})` : ''}: `) || stored?.username || ''
      password ??= await prompt(io, 'Password: ')
    }
    if (!username) throw new Error('Error: Non-null Username Required')
    if (!password) throw new Error('Error: Password Required')
    await client.system.auth({ username, password, serveraddress: key })
    await saveCredentials(key, username, password)
    io.err(`WARNING! Your credentials are stored unencrypted in '${configPath()}'.`)
    io.out('Login Succeeded')
    return 0
  },
}

async function readAll(io: Io): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of io.stdin as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks).toString('utf8')
}

async function prompt(io: Io, question: string): Promise<string> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true })
  try {
    return (await rl.question(question)).trim()
  } finally {
    rl.close()
  }
}
