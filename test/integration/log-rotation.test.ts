import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, caisBin, dockerBin, startDaemon, waitFor } from '../helpers/daemon.ts'

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

/** The log files of a container: the live one and the rotated ones (`.held` is the live file's second name). */
function logFiles(dir: string, id: string): string[] {
  const names = readdirSync(dir).filter((f) => f.startsWith(`${id}-json.log`))
  const held = names.find((f) => f.endsWith('.held'))
  if (held) assert.equal(statSync(join(dir, held)).ino, statSync(join(dir, `${id}-json.log`)).ino, 'the held link names the live file')
  return names.filter((f) => f !== held)
}

const numbers = (text: string): number[] => [...text.matchAll(/^n (\d+)$/gm)].map((m) => Number(m[1]))
const consecutive = (ns: number[]): boolean => ns.every((n, i) => i === 0 || n === ns[i - 1]! + 1)

test('json-file max-size/max-file: the log rotates, old files go, logs reads across them and -f follows', async (t) => {
  const d = await startDaemon(t)
  // The writer starts once the follower has seen its first line: three rotations of 1k go by in well under a second,
  // and a follower attached after them would rightly miss what went with the oldest file.
  const signals = join(d.dir, 'signals')
  mkdirSync(signals)
  const id = (await ok(d, 'run', '-d', '-v', `${signals}:/signals`, '--log-opt', 'max-size=1k', '--log-opt', 'max-file=3', BUSYBOX, 'sh', '-c', 'echo ready; while [ ! -e /signals/go ]; do sleep 0.02; done; i=0; while [ $i -lt 200 ]; do echo "n $i"; i=$((i+1)); sleep 0.01; done; sleep 300')).trim()
  const follower = spawn(caisBin, ['logs', '-f', id], { env: { ...process.env, CAIS_HOST: d.host }, stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => follower.kill())
  let output = ''
  follower.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')))
  const followed = new Promise<string>((resolve) => follower.on('close', () => resolve(output)))
  await waitFor('the follower to attach', async () => output.startsWith('ready\n') || undefined, 15_000)
  writeFileSync(join(signals, 'go'), '')
  await waitFor('all lines written', async () => (await d.cli('logs', '--tail', '1', id)).stdout.trim() === 'n 199' || undefined, 15_000)
  await new Promise((r) => setTimeout(r, 500))

  const dir = join(d.root, 'containers', id)
  const files = logFiles(dir, id)
  assert.ok(files.length > 1, `rotated: ${files.join(' ')}`)
  assert.ok(files.length <= 3, `at most max-file files (3): ${files.join(' ')}`)

  const all = numbers(await ok(d, 'logs', id))
  assert.equal(all.at(-1), 199)
  assert.ok(consecutive(all), 'what is kept is whole and in order')
  assert.ok(all[0]! > 0, 'the oldest lines went with the oldest file')

  await ok(d, 'stop', '-t', '0', id)
  const seen = numbers(await followed)
  assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i), 'the follower saw every line across the rotations')
})

test('log driver and options: Docker errors at create', async (t) => {
  const d = await startDaemon(t)
  const cases: Array<[string[], RegExp]> = [
    [['--log-driver', 'syslogx'], /logger: no log driver named 'syslogx' is registered/],
    [['--log-opt', 'max-file=0', '--log-opt', 'max-size=1m'], /max-file cannot be less than 1/],
    [['--log-opt', 'colour=red'], /unknown log opt 'colour' for json-file log driver/],
    [['--log-opt', 'max-size=huge'], /invalid value for max-size: huge/],
  ]
  for (const [flags, message] of cases) {
    const r = await d.cli('run', '--rm', ...flags, BUSYBOX, 'true')
    assert.equal(r.code, 125, flags.join(' '))
    assert.match(r.stderr, message)
  }
  // max-file alone is accepted, as Docker's.
  await ok(d, 'run', '--rm', '--log-opt', 'max-file=2', BUSYBOX, 'true')
  // With no log driver the attached output is still shown (Docker attaches to the process, not the log).
  assert.equal(await ok(d, 'run', '--name', 'quiet', '--log-driver', 'none', BUSYBOX, 'sh', '-c', 'echo shown; printf last'), 'shown\nlast')
  assert.equal(await ok(d, 'start', '-a', 'quiet'), 'shown\nlast')
  const none = await d.cli('logs', 'quiet')
  assert.equal(none.code, 1)
  assert.match(none.stderr, /configured logging driver does not support reading/)
})

test("rotation holds the limit against a fast writer; options without --log-driver are the default driver's", { skip: existsSync(dockerBin) ? false : 'no docker CLI' }, async (t) => {
  const d = await startDaemon(t)
  // The docker CLI sends the options with an empty driver name.
  const run = await d.docker('run', '-d', '--log-opt', 'max-size=1m', '--log-opt', 'max-file=2', BUSYBOX, 'sh', '-c', 'yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 40000000; echo; echo done')
  assert.equal(run.code, 0, run.stderr)
  const id = run.stdout.trim()
  const inspect = await d.client.containers.inspect(id)
  assert.deepEqual((inspect.HostConfig as { LogConfig: unknown }).LogConfig, { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } })
  await waitFor('the writer to finish', async () => ((await d.client.containers.inspect(id)).State.Running ? undefined : true), 60_000)
  const dir = join(d.root, 'containers', id)
  const files = logFiles(dir, id)
  const total = files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0)
  assert.ok(files.length <= 2, files.join(' '))
  // Two files of at most max-size each (the k8s-file framing of each line counts, as Docker's json-file counts its
  // JSON): conmon starts a new file before a write would pass it, however fast the writer. Rotation by caisd alone
  // kept up to 4.9 MB here under load, and 13-52 MB when it polled.
  assert.ok(total <= 2 * 1024 * 1024, `${total} bytes kept under max-size=1m,max-file=2`)
  assert.match((await d.docker('logs', '--tail', '1', id)).stdout, /^done\n$/)
})
