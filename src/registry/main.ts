// cais-registry: the OCI distribution registry server, a process of its own (it needs no caisd).
//
//   cais registry serve [--addr HOST:PORT] [--root DIR]
import { FilesystemStorage } from './storage.ts'
import { createRegistryServer } from './server.ts'

const usage = `Usage:	cais registry serve [OPTIONS]

Serve an OCI distribution registry (push and pull with any Docker or OCI client)

Options:
      --addr string   Address to listen on (default "127.0.0.1:5000")
      --root string   Directory the registry keeps its blobs, manifests, tags and uploads in (default "/var/lib/cais-registry")
  -h, --help          Print usage
`

function parseArgs(argv: string[]): { addr: string; root: string } | 'help' {
  const out = { addr: '127.0.0.1:5000', root: '/var/lib/cais-registry' }
  const args = argv[0] === 'serve' ? argv.slice(1) : argv
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.includes('=') ? (args[i]!.split(/=(.*)/s) as [string, string]) : [args[i]!, undefined]
    const value = (): string => {
      const v = inline ?? args[++i]
      if (v === undefined) throw new Error(`flag needs an argument: ${flag}`)
      return v
    }
    if (flag === '--addr') out.addr = value()
    else if (flag === '--root') out.root = value()
    else if (flag === '-h' || flag === '--help') return 'help'
    else throw new Error(`unknown flag: ${flag}`)
  }
  if (!/^(\[[0-9a-fA-F:]+\]|[^:]*):\d+$/.test(out.addr)) throw new Error(`invalid --addr ${out.addr}: expected HOST:PORT`)
  return out
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  if (argv[0] !== 'serve' && argv[0] !== undefined && !argv[0].startsWith('-')) throw new Error(`unknown registry command: ${argv[0]}`)
  const opts = parseArgs(argv)
  if (opts === 'help') {
    process.stdout.write(usage)
    return 0
  }
  const storage = new FilesystemStorage(opts.root)
  await storage.init()
  const server = createRegistryServer({ storage, accessLog: (e) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`) })
  const colon = opts.addr.lastIndexOf(':')
  const host = opts.addr.slice(0, colon).replace(/^\[|\]$/g, '') || '0.0.0.0'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(Number(opts.addr.slice(colon + 1)), host, () => resolve())
  })
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg: 'registry listening', addr: opts.addr, root: opts.root })}\n`)
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve())
    process.once('SIGINT', () => resolve())
  })
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`cais registry: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  },
)
