import assert from 'node:assert/strict'
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { entryText, logEnd, parseLogLine, readLogs } from './logs.ts'

test('conmon k8s-file lines parse to UTC nanosecond times', () => {
  const p = parseLogLine(Buffer.from('2024-01-02T03:04:05.123456789+01:00 stderr F hello world'))
  assert.deepEqual(p && { ...p, nanos: p.nanos.toString(), text: p.text.toString() }, {
    stream: 'stderr',
    time: '2024-01-02T02:04:05.123456789Z',
    nanos: '1704161045123456789',
    partial: false,
    text: 'hello world',
  })
  assert.equal(parseLogLine(Buffer.from('garbage')), undefined)
  assert.equal(parseLogLine(Buffer.from('2024-01-01T00:00:00Z stdin F x')), undefined)
})

test('partial lines are joined; tail counts whole lines', async () => {
  const dir = mkdtempSync('/tmp/cais-logs-')
  try {
    const path = join(dir, 'log')
    writeFileSync(
      path,
      ['2024-01-01T00:00:00.1Z stdout P hel', '2024-01-01T00:00:00.2Z stdout F lo', '2024-01-01T00:00:01Z stdout F two', '2024-01-01T00:00:02Z stderr F three', ''].join('\n'),
    )
    const all: string[] = []
    for await (const batch of readLogs(path, { follow: false })) for (const e of batch) all.push(`${e.stream}:${entryText(e).toString()}`)
    assert.deepEqual(all, ['stdout:hello\n', 'stdout:two\n', 'stderr:three\n'])
    const tail: string[] = []
    for await (const batch of readLogs(path, { follow: false, tail: 2 })) for (const e of batch) tail.push(entryText(e).toString())
    assert.deepEqual(tail, ['two\n', 'three\n'])
    const since: string[] = []
    for await (const batch of readLogs(path, { follow: false, sinceNanos: 1704067201000000000n })) for (const e of batch) since.push(entryText(e).toString())
    assert.deepEqual(since, ['two\n', 'three\n'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a last line without a newline is read, alone, under a tail and from a rotated file', async () => {
  const dir = mkdtempSync('/tmp/cais-logs-')
  const texts = async (path: string, opts: { tail?: number }): Promise<string[]> => {
    const out: string[] = []
    for await (const batch of readLogs(path, { follow: false, ...opts })) for (const e of batch) out.push(entryText(e).toString())
    return out
  }
  try {
    const path = join(dir, 'log')
    writeFileSync(path, '2024-01-01T00:00:00Z stdout F one\n2024-01-01T00:00:01Z stdout P x\n')
    assert.deepEqual(await texts(path, {}), ['one\n', 'x'])
    assert.deepEqual(await texts(path, { tail: 1 }), ['x'])
    writeFileSync(join(dir, 'only'), '2024-01-01T00:00:01Z stderr P y\n')
    assert.deepEqual(await texts(join(dir, 'only'), {}), ['y'])
    // Rotated in the middle of a line: the two halves are one line.
    renameSync(path, `${path}.1`)
    writeFileSync(path, '2024-01-01T00:00:02Z stdout F yz\n')
    assert.deepEqual(await texts(path, {}), ['one\n', 'xyz\n'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('an attach reads from where the log ended when it came, however late the reader starts', async () => {
  // The attach route takes the position, answers 101, and only then reads: a container started by the client
  // meanwhile may have written already, and that output is the attach's.
  const dir = mkdtempSync('/tmp/cais-logs-')
  try {
    const path = join(dir, 'log')
    writeFileSync(path, '2024-01-01T00:00:00Z stdout F before\n')
    const from = await logEnd(path)
    const reader = readLogs(path, { follow: false, from, times: false })
    appendFileSync(path, '2024-01-01T00:00:01Z stdout F after\n')
    const read: string[] = []
    for await (const batch of reader) for (const e of batch) read.push(entryText(e).toString())
    assert.deepEqual(read, ['after\n'])
    // No log yet (a container that never ran): from the start of the file once it comes.
    assert.deepEqual(await logEnd(join(dir, 'none')), { offset: 0, inode: undefined })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a log larger than one read comes back whole, in order, across the read boundary and a rotation', async () => {
  const dir = mkdtempSync('/tmp/cais-logs-')
  try {
    const path = join(dir, 'log')
    const lines = (from: number, n: number): string =>
      Array.from({ length: n }, (_, i) => `2024-01-01T00:00:00.${String(i % 1000).padStart(3, '0')}Z ${(from + i) % 7 === 0 ? 'stderr' : 'stdout'} F line ${from + i} ${'x'.repeat(60)}\n`).join('')
    // 5.4 MB in the rotated file, more than one 4 MB read, then a partial line split over two entries.
    writeFileSync(`${path}.1`, lines(0, 60_000))
    writeFileSync(path, lines(60_000, 10) + '2024-01-01T00:00:01Z stdout P split \n2024-01-01T00:00:01Z stdout F end\n')
    const got: string[] = []
    for await (const batch of readLogs(path, { follow: false, times: false })) for (const e of batch) got.push(`${e.stream[3]}${entryText(e).toString()}`)
    assert.equal(got.length, 60_011)
    for (const i of [0, 1, 7, 39_999, 59_999, 60_000, 60_009]) assert.equal(got[i], `${i % 7 === 0 ? 'e' : 'o'}line ${i} ${'x'.repeat(60)}\n`)
    assert.equal(got[60_010], 'osplit end\n')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test("a follower reads to the end of the container's output though its directory is renamed away first (rm racing the last read)", async () => {
  const parent = mkdtempSync('/tmp/cais-logs-')
  try {
    const dir = join(parent, 'container')
    mkdirSync(dir)
    const path = join(dir, 'log')
    // An attach before the first start: there is no log yet.
    const from = await logEnd(path)
    let stop = (): void => {}
    const stopped = new Promise<void>((resolve) => (stop = resolve))
    const reader = readLogs(path, { follow: true, from, times: false, stopped })
    const read: string[] = []
    const done = (async () => {
      for await (const batch of reader) for (const e of batch) read.push(entryText(e).toString())
    })()
    await new Promise((r) => setTimeout(r, 50))
    // The container writes and exits, and its removal renames the directory before the follower reads again.
    appendFileSync(path, '2024-01-01T00:00:01Z stdout F first\n2024-01-01T00:00:02Z stdout F last\n')
    renameSync(dir, `${dir}.removing`)
    stop()
    await done
    assert.deepEqual(read, ['first\n', 'last\n'])
  } finally {
    rmSync(parent, { recursive: true, force: true })
  }
})
