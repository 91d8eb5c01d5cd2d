import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { Duplex } from 'node:stream'
import { connect as tlsConnect } from 'node:tls'
import type { Dial } from './http-exchange.ts'

/** Where the daemon is, as the user named it, and how to open a connection to it. */
export interface Endpoint {
  /** `unix:///run/cais/cais.sock`, `tcp://host:2376`, `ssh://user@host`: for messages. */
  host: string
  dial: Dial
}

/** TLS to a tcp:// daemon: `verify` checks its certificate against `ca`; `cert`/`key` identify this client. */
export interface ClientTls {
  verify: boolean
  ca?: Buffer | undefined
  cert?: Buffer | undefined
  key?: Buffer | undefined
}

export function unixEndpoint(socketPath: string): Endpoint {
  return { host: `unix://${socketPath}`, dial: () => connect(socketPath) }
}

/**
 * The endpoint for a host: a unix socket (`unix://PATH` or a bare path), `tcp://HOST:PORT` (TLS when `tls` is
 * given), or `ssh://[USER@]HOST[:PORT]`, which runs `cais system dial-stdio` on that host and speaks over the
 * session, as the docker CLI does with `docker system dial-stdio`.
 */
export function endpointOf(host: string, tls?: ClientTls): Endpoint {
  if (host.startsWith('/')) return unixEndpoint(host)
  if (host.startsWith('unix://')) return unixEndpoint(host.slice('unix://'.length))
  if (host.startsWith('tcp://') || host.startsWith('https://') || host.startsWith('http://')) {
    const url = new URL(host.replace(/^tcp:/, 'http:'))
    const hostname = url.hostname.replace(/^\[|\]$/g, '')
    const port = Number(url.port || (tls ? 2376 : 2375))
    if (!tls) return { host, dial: () => connect(port, hostname) }
    return {
      host,
      dial: () =>
        tlsConnect({
          host: hostname,
          port,
          ...(/^[\d.]+$|:/.test(hostname) ? {} : { servername: hostname }),
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: tls.verify,
          minVersion: 'TLSv1.2',
        }),
    }
  }
  if (host.startsWith('ssh://')) {
    const url = new URL(host)
    if (url.pathname !== '' && url.pathname !== '/') throw new Error(`invalid ssh host ${host}: extra path after the host: ${url.pathname}`)
    const args = ['-T', '-o', 'ConnectTimeout=30', ...(url.port ? ['-p', url.port] : []), ...(url.username ? ['-l', decodeURIComponent(url.username)] : []), '--', url.hostname, 'cais', 'system', 'dial-stdio']
    return { host, dial: () => sshStream(args) }
  }
  throw new Error(`unsupported host ${host}: expected unix://, tcp:// or ssh://`)
}

/**
 * An ssh session's stdin and stdout as one stream. What ssh says on stderr becomes the error when it fails; the
 * remote closing its end (after the last answer) is an end, not an error.
 */
function sshStream(args: string[]): Duplex {
  const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdin.on('error', () => {})
  const stream = new Duplex({
    read() {
      child.stdout.resume()
    },
    write(chunk: Buffer, _encoding, callback) {
      if (child.stdin.destroyed) callback()
      else child.stdin.write(chunk, () => callback())
    },
    final(callback) {
      child.stdin.end()
      callback()
    },
    destroy(err, callback) {
      if (child.exitCode === null) child.kill()
      callback(err)
    },
  })
  child.stdout.on('data', (d: Buffer) => {
    if (!stream.push(d)) child.stdout.pause()
  })
  const failed = (code: number | null): boolean => code !== 0 && code !== null
  const failure = (code: number | null): Error => new Error(stderr.trim().split("\n").at(-1) || `ssh exited with ${code}`)
  // The output's end is an end once ssh has exited well; when it failed, what it said is the error.
  child.stdout.on('end', () => {
    const settle = (code: number | null): void => void (failed(code) ? stream.destroy(failure(code)) : stream.push(null))
    if (child.exitCode !== null) settle(child.exitCode)
    else child.once('exit', settle)
  })
  child.on('error', (err) => stream.destroy(err))
  child.on('exit', (code) => {
    if (failed(code) && !child.stdout.readableEnded) stream.destroy(failure(code))
  })
  return stream
}
