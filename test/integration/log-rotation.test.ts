import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, startDaemon, waitFor } from '../helpers/daemon.ts'

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

const numbers = (text: string): number[] => [...text.matchAll(/^n (\d+)$/gm)].map((m) => Number(m[1]))
const consecutive = (ns: number[]): boolean => ns.every((n, i) => i === 0 || n === ns[i - 1]! + 1)

test('json-file max-size/max-file: the log rotates, old files go, logs reads across them and -f follows', async (t) => {
  const d = await startDaemon(t)
  const id = (await ok(d, 'run', '-d', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=3', BUSYBOX, 'sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo "n $i"; i=$((i+1)); sleep 0.01; done; sleep 300')).trim()
  const followed = d.cli('logs', '-f', id)
  await waitFor('all lines written', async () => (await d.cli('logs', '--tail', '1', id)).stdout.trim() === 'n 199' || undefined, 15_000)
  await new Promise((r) => setTimeout(r, 500))

  const dir = join(d.root, 'containers', id)
  const files = readdirSync(dir).filter((f) => f.startsWith(`${id}-json.log`))
  assert.ok(files.length > 1, `rotated: ${files.join(' ')}`)
  assert.ok(files.length <= 3, `at most max-file files (3): ${files.join(' ')}`)

  const all = numbers(await ok(d, 'logs', id))
  assert.equal(all.at(-1), 199)
  assert.ok(consecutive(all), 'what is kept is whole and in order')
  assert.ok(all[0]! > 0, 'the oldest lines went with the oldest file')

  await ok(d, 'stop', '-t', '0', id)
  const seen = numbers((await followed).stdout)
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
  await ok(d, 'run', '--name', 'quiet', '--log-driver', 'none', BUSYBOX, 'echo', 'unseen')
  const none = await d.cli('logs', 'quiet')
  assert.equal(none.code, 1)
  assert.match(none.stderr, /configured logging driver does not support reading/)
})
