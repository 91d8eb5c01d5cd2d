// One HTTP request to a daemon's socket, answered whole: for tests of statuses, headers and bodies as they are.
import { request } from 'node:http'

export interface Raw {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export function raw(socketPath: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end(body)
  })
}
