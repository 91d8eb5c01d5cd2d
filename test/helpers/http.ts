import { connect } from 'node:net'

/** An HTTP GET over a plain socket to 127.0.0.1 (only loopback is ever addressed from the host): the whole answer. */
export function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n'))
    let body = ''
    s.setTimeout(3000, () => s.destroy(new Error('timed out')))
    s.on('data', (d: Buffer) => (body += d.toString()))
    s.on('end', () => resolve(body))
    s.on('error', reject)
  })
}
