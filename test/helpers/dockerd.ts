// A real dockerd (Debian's docker.io, 20.10) for tests that compare with it or drive it with cais: its own data
// root, exec root, socket and bridge, no iptables rules, all removed after the test.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { unmountUnder } from './host-cleanup.ts'
import { busyboxTar, caisBin, claimNetworkSlot, runCommand, type RunResult } from './daemon.ts'

export const dockerdBin = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find(existsSync)

export interface TestDockerd {
  host: string
  /** The cais CLI against this dockerd. */
  cli(...args: string[]): Promise<RunResult>
}

export async function startDockerd(t: TestContext): Promise<TestDockerd> {
  if (!dockerdBin) throw new Error('dockerd is not installed')
  const dir = mkdtempSync('/tmp/cais-test-dockerd-')
  const net = claimNetworkSlot()
  const bridge = `dkt${net.slot}`
  const host = `unix://${join(dir, 'docker.sock')}`
  const started: { proc?: ChildProcess } = {}
  let log = ''
  t.after(async () => {
    const proc = started.proc
    if (proc && proc.exitCode === null) {
      const ids = execFileSync(dockerBinary(), ['-H', host, 'ps', '-aq'], { encoding: 'utf8', timeout: 30_000 }).split('\n').filter(Boolean)
      if (ids.length > 0) execFileSync(dockerBinary(), ['-H', host, 'rm', '-f', ...ids], { stdio: 'ignore', timeout: 30_000 })
      const exited = new Promise<void>((r) => proc.once('exit', () => r()))
      proc.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))])
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    }
    killProcessesNaming(dir)
    unmountUnder(dir)
    rmSync(dir, { recursive: true, force: true })
    quiet('ip', ['link', 'del', 'dev', bridge])
    net.release()
  })
  quiet('ip', ['link', 'del', 'dev', bridge])
  execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge'])
  execFileSync('ip', ['addr', 'add', `10.233.${net.slot}.1/24`, 'dev', bridge])
  execFileSync('ip', ['link', 'set', bridge, 'up'])
  // Not --bridge=none: dockerd deletes docker0 at start with it. Its own bridge leaves the host's alone.
  const proc = spawn(
    dockerdBin,
    ['--data-root', join(dir, 'root'), '--exec-root', join(dir, 'run'), '--pidfile', join(dir, 'docker.pid'), '-H', host, '--bridge', bridge, '--iptables=false', '--ip6tables=false'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  started.proc = proc
  proc.stderr.on('data', (d: Buffer) => (log += d.toString()))
  const deadline = Date.now() + 60_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`dockerd exited with ${proc.exitCode}:\n${log}`)
    const r = await runCommand(dockerBinary(), ['-H', host, 'version', '--format', '{{.Server.Version}}']).catch(() => undefined)
    if (r?.code === 0) break
    if (Date.now() > deadline) throw new Error(`dockerd did not come up:\n${log}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  const cli = (...args: string[]): Promise<RunResult> => runCommand(caisBin, args, { env: { CAIS_HOST: host, DOCKER_HOST: host, CAIS_CONFIG: join(dir, 'cais-config') } })
  const imported = await runCommand(caisBin, ['import', '--change', 'CMD ["sh"]', busyboxTar(), 'busybox:latest'], { env: { CAIS_HOST: host } })
  if (imported.code !== 0) throw new Error(`import into dockerd failed: ${imported.stderr}`)
  return { host, cli }
}

const dockerBinary = (): string => (existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : '/usr/bin/docker')

const quiet = (cmd: string, args: string[]): void => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' })
  } catch {
    // already gone
  }
}

/** SIGKILLs what the dockerd left running (containerd, its shims), found by the test's directory in their command line. */
function killProcessesNaming(dir: string): void {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (Number(pid) !== process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(Number(pid), 'SIGKILL')
    } catch {
      // gone meanwhile
    }
  }
}
