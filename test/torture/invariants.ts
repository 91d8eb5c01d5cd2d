// What must hold after every restart of a killed caisd: the acknowledged objects are there and whole, the removed
// ones stay gone, each container's state agrees with its conmon and crun, the store checks clean, nothing
// half-written lies in it, and nothing of a container that is not running is left in the kernel.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ApiError } from '../../src/client/http.ts'
import type { EngineClient } from '../../src/client/engine-client.ts'
import type { ContainerInspect } from '../../src/wire/types.ts'
import { canConnect } from '../helpers/registry.ts'
import type { Worker } from './workload.ts'

const run = promisify(execFile)

export interface DaemonPlaces {
  root: string
  execRoot: string
  /** The daemon's iptables chain prefix. */
  chainPrefix: string
}

/** Inspects, or undefined on 404; other errors throw. */
async function inspectOrAbsent<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call()
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined
    throw err
  }
}

/** The daemon answers `_ping` and a container list, each within a second. */
export async function checkResponsive(client: EngineClient): Promise<string[]> {
  const out: string[] = []
  for (const [what, call] of [
    ['ping', () => client.system.ping()],
    ['container list', () => client.containers.list({ all: true })],
  ] as const) {
    const t0 = performance.now()
    await call()
    const ms = performance.now() - t0
    if (ms > 1000) out.push(`${what} took ${ms.toFixed(0)} ms after the restart`)
  }
  return out
}

/**
 * Compares the daemon with the workers' models, then settles each `unknown` to what the daemon shows, so that the
 * next round starts from certainty.
 */
export async function checkModel(client: EngineClient, workers: Worker[]): Promise<string[]> {
  const out: string[] = []
  for (const w of workers) {
    for (const c of w.containers.values()) {
      const found = await inspectOrAbsent(() => client.containers.inspect(c.id ?? c.name))
      if (c.state === 'present' && !found) out.push(`container ${c.name} was created (answered) and is gone`)
      if (c.state === 'absent' && found) out.push(`container ${c.name} was removed (answered) and is back`)
      if (found && c.state !== 'absent') {
        if (c.running === true && !found.State.Running) out.push(`container ${c.name} was running and is ${found.State.Status} after the restart`)
        if (c.running === false && found.State.Running) out.push(`container ${c.name} was stopped and is running after the restart`)
        Object.assign(c, { id: found.Id, state: 'present', running: found.State.Running })
      } else Object.assign(c, { state: 'absent', running: false })
    }
    for (const c of [...w.containers.values()]) if (c.state === 'absent') w.containers.delete(c.name)

    const settle = async (kind: string, models: Map<string, { state: string }>, inspect: (name: string) => Promise<unknown>): Promise<void> => {
      for (const [name, m] of models) {
        const found = await inspectOrAbsent(() => inspect(name))
        if (m.state === 'present' && !found) out.push(`${kind} ${name} was made (answered) and is gone`)
        if (m.state === 'absent' && found) out.push(`${kind} ${name} was removed (answered) and is back`)
        if (found) m.state = 'present'
        else models.delete(name)
      }
    }
    await settle('image', w.images, (ref) => client.images.inspect(ref))
    await settle('volume', w.volumes, (name) => client.volumes.inspect(name))
    await settle('network', w.networks, (name) => client.networks.inspect(name))
  }
  return out
}

/** `system check` finds nothing. */
export async function checkStoreClean(client: EngineClient): Promise<string[]> {
  const report = await client.system.check()
  return report.Problems.map((p) => `system check: ${p.Object} ${p.ID}: ${p.Problem}`)
}

/** No temp file of an interrupted atomic write is left in the store's record directories once the daemon is up. */
export function checkNoTempFiles(root: string): string[] {
  const out: string[] = []
  const scan = (dir: string, depth: number): void => {
    if (!existsSync(dir)) return
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isFile() && e.name.startsWith('.') && e.name.endsWith('.tmp')) out.push(`temp file left: ${join(dir, e.name)}`)
      else if (e.isDirectory() && depth > 0) scan(join(dir, e.name), depth - 1)
    }
  }
  for (const [dir, depth] of [['images', 0], ['layers', 0], ['networks', 0], ['containers', 1], ['volumes', 1], ['content/blobs/sha256', 0], ['distribution', 0]] as const) scan(join(root, dir), depth)
  return out
}

/**
 * Each container's state as the daemon tells it agrees with crun's and with the processes on the host: a running
 * one has its process, a conmon and crun's `running`; any other has neither. Then nothing of a container that is
 * not running is left: conmon, mount, network namespace, veth, DNAT rule, cgroup; and a published port of a
 * running one answers.
 */
export async function checkHost(client: EngineClient, d: DaemonPlaces): Promise<string[]> {
  const out: string[] = []
  const summaries = await client.containers.list({ all: true })
  const inspected: ContainerInspect[] = []
  for (const s of summaries) {
    const i = await inspectOrAbsent(() => client.containers.inspect(s.Id))
    if (i) inspected.push(i)
  }
  const running = new Map(inspected.filter((c) => c.State.Running).map((c) => [c.Id, c]))
  const conmons = conmonsOf(d.execRoot)

  for (const c of inspected) {
    const crunStatus = await crunState(d.execRoot, c.Id)
    if (c.State.Running) {
      if (!c.State.Pid || !existsSync(`/proc/${c.State.Pid}`)) out.push(`container ${c.Name} is running by the daemon, but its process ${c.State.Pid} is gone`)
      if (crunStatus !== 'running' && crunStatus !== 'paused') out.push(`container ${c.Name} is running by the daemon, crun says ${crunStatus ?? 'no such container'}`)
      if (!conmons.has(c.Id)) out.push(`container ${c.Name} is running by the daemon, with no conmon`)
      if (c.State.Paused !== (crunStatus === 'paused')) out.push(`container ${c.Name} is ${c.State.Paused ? '' : 'not '}paused by the daemon, crun says ${crunStatus}`)
    } else {
      if (crunStatus === 'running' || crunStatus === 'paused') out.push(`container ${c.Name} is ${c.State.Status} by the daemon, crun says ${crunStatus}`)
      if (conmons.has(c.Id)) out.push(`container ${c.Name} is ${c.State.Status} by the daemon, its conmon ${conmons.get(c.Id)} is alive`)
    }
  }
  for (const [id, pid] of conmons) if (!running.has(id)) out.push(`conmon ${pid} of ${inspected.some((c) => c.Id === id) ? 'stopped' : 'unknown'} container ${id.slice(0, 12)}`)

  const idIn = (text: string): string | undefined => /[0-9a-f]{64}/.exec(text)?.[0]
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const point = line.split(' ')[4]
    if (!point || !(point.startsWith(d.root) || point.startsWith(d.execRoot))) continue
    const id = idIn(point)
    if (id && !running.has(id)) out.push(`mount of a container that is ${inspected.find((c) => c.Id === id)?.State.Status ?? 'gone'}: ${point}`)
  }

  const known = new Set(inspected.map((c) => c.Id.slice(0, 12)))
  const ours = (netns: string): boolean => /^cais-[0-9a-f]{12}$/.test(netns) && [...running.keys(), ...known].some((id) => netns === `cais-${id.slice(0, 12)}`)
  for (const netns of existsSync('/run/netns') ? readdirSync('/run/netns') : []) {
    if (!ours(netns)) continue
    if (![...running.keys()].some((id) => netns === `cais-${id.slice(0, 12)}`)) out.push(`network namespace ${netns} of a container that is not running`)
  }

  // veths on this daemon's bridges, against the endpoints its network records give running containers.
  const endpoints = new Set<string>()
  const bridges: string[] = []
  for (const f of readdirSync(join(d.root, 'networks')).filter((n) => n.endsWith('.json'))) {
    let rec: { bridge?: string; endpoints?: Record<string, { hostIf: string; containerId?: string }> }
    try {
      rec = JSON.parse(readFileSync(join(d.root, 'networks', f), 'utf8')) as typeof rec
    } catch {
      continue // broken: system check reports it
    }
    if (rec.bridge) bridges.push(rec.bridge)
    for (const [key, e] of Object.entries(rec.endpoints ?? {})) if (running.has(e.containerId ?? key)) endpoints.add(e.hostIf)
  }
  for (const bridge of bridges) {
    const links = await run('ip', ['-o', 'link', 'show', 'master', bridge]).then((r) => r.stdout, () => '')
    for (const m of links.matchAll(/^\d+: ([^:@]+)[@:]/gm)) if (!endpoints.has(m[1]!)) out.push(`veth ${m[1]} on ${bridge} belongs to no running container`)
  }

  const settings = (c: ContainerInspect): NetworkSettings => c.NetworkSettings
  const addresses = new Set([...running.values()].flatMap((c) => Object.values(settings(c).Networks ?? {}).map((n) => n.IPAddress)))
  const dnat = await run('iptables', ['-w', '-t', 'nat', '-S', `${d.chainPrefix}-DNAT`]).then((r) => r.stdout, () => '')
  for (const m of dnat.matchAll(/--to-destination ([\d.]+):\d+/g)) if (!addresses.has(m[1]!)) out.push(`DNAT rule to ${m[1]}, an address of no running container`)

  for (const c of inspected) {
    const cgroup = `/sys/fs/cgroup/memory/cais/${c.Id}`
    if (!c.State.Running && existsSync(cgroup) && readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').trim() !== '') out.push(`cgroup of ${c.Name} (${c.State.Status}) still has processes`)
  }

  for (const c of running.values()) {
    for (const bindings of Object.values(settings(c).Ports ?? {})) {
      for (const b of bindings ?? []) {
        if (!(await canConnect(Number(b.HostPort)))) out.push(`published port 127.0.0.1:${b.HostPort} of running ${c.Name} does not answer`)
      }
    }
  }
  return out
}

/** What the checks read of a container's inspect. */
interface NetworkSettings {
  Networks?: Record<string, { IPAddress: string }>
  Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null>
}

/** Container ID → PID of each conmon serving this exec root. */
function conmonsOf(execRoot: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv: string[]
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    } catch {
      continue
    }
    if (!argv[0]?.endsWith('conmon') || !argv.some((a) => a.startsWith(execRoot))) continue
    // An exec's conmon (`-e`) is the exec's, not the container's.
    if (argv.includes('-e') || argv.includes('--exec')) continue
    const id = argv[argv.indexOf('-c') + 1]
    if (id) out.set(id, Number(pid))
  }
  return out
}

async function crunState(execRoot: string, id: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('crun', [`--root=${join(execRoot, 'crun')}`, 'state', id])
    return (JSON.parse(stdout) as { status: string }).status
  } catch {
    return undefined
  }
}
