import { execFileSync } from 'node:child_process'
import type { Scope } from './daemon.ts'

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' })

/**
 * Two test "hosts": network namespaces joined by a veth pair, 10.233.N.1 and 10.233.N.2 (N from the PID). Only
 * these addresses and the containers' own are ever addressed. Removed, with everything in them, afterwards.
 */
export function twoHosts(t: Scope): { names: [string, string]; addrs: [string, string] } {
  const n = process.pid % 200
  const names: [string, string] = [`cais-h1-${process.pid}`, `cais-h2-${process.pid}`]
  const addrs: [string, string] = [`10.233.${n}.1`, `10.233.${n}.2`]
  t.after(() => {
    for (const h of names) {
      try {
        ip('netns', 'delete', h)
      } catch {
        // already gone
      }
    }
  })
  for (const h of names) ip('netns', 'add', h)
  ip('link', 'add', `u1-${process.pid % 10000}`, 'netns', names[0], 'type', 'veth', 'peer', 'name', `u2-${process.pid % 10000}`, 'netns', names[1])
  for (const [i, h] of names.entries()) {
    ip('-n', h, 'link', 'set', 'lo', 'up')
    ip('-n', h, 'addr', 'add', `${addrs[i]}/24`, 'dev', `u${i + 1}-${process.pid % 10000}`)
    ip('-n', h, 'link', 'set', `u${i + 1}-${process.pid % 10000}`, 'up')
  }
  return { names, addrs }
}
