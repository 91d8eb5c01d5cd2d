import { execFileSync } from 'node:child_process'
import type { Scope } from './daemon.ts'

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' })

/**
 * Test "hosts": `count` network namespaces on one Ethernet segment (a bridge in a switch namespace of its own, a
 * veth from each host to it), 10.233.N.1, 10.233.N.2, … (N from the PID). Only these addresses and the containers'
 * own are ever addressed. Removed, with everything in them, afterwards.
 */
export function testHosts(t: Scope, count: number): { names: string[]; addrs: string[] } {
  const n = process.pid % 200
  const tag = process.pid % 10000
  const names = Array.from({ length: count }, (_, i) => `cais-h${i + 1}-${process.pid}`)
  const addrs = Array.from({ length: count }, (_, i) => `10.233.${n}.${i + 1}`)
  const fabric = `cais-sw-${process.pid}`
  t.after(() => {
    for (const h of [...names, fabric]) {
      try {
        ip('netns', 'delete', h)
      } catch {
        // already gone
      }
    }
  })
  for (const h of [fabric, ...names]) ip('netns', 'add', h)
  ip('-n', fabric, 'link', 'add', 'sw', 'type', 'bridge')
  ip('-n', fabric, 'link', 'set', 'sw', 'up')
  for (const [i, h] of names.entries()) {
    const [inHost, inFabric] = [`u${i + 1}-${tag}`, `p${i + 1}-${tag}`]
    ip('link', 'add', inHost, 'netns', h, 'type', 'veth', 'peer', 'name', inFabric, 'netns', fabric)
    ip('-n', fabric, 'link', 'set', inFabric, 'master', 'sw', 'up')
    ip('-n', h, 'link', 'set', 'lo', 'up')
    ip('-n', h, 'addr', 'add', `${addrs[i]}/24`, 'dev', inHost)
    ip('-n', h, 'link', 'set', inHost, 'up')
  }
  return { names, addrs }
}
