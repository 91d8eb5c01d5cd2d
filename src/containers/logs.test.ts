import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseLogLine, readLogs } from './logs.ts'

test('conmon k8s-file lines parse to UTC nanosecond times', () => {
  const p = parseLogLine('2024-01-02T03:04:05.123456789+01:00 stderr F hello world')
  assert.deepEqual(p && { ...p, nanos: p.nanos.toString() }, {
    stream: 'stderr',
    time: '2024-01-02T02:04:05.123456789Z',
    nanos: '1704161045123456789',
    partial: false,
    text: 'hello world',
  })
  assert.equal(parseLogLine('garbage'), undefined)
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
    for await (const e of readLogs(path, { follow: false })) all.push(`${e.stream}:${e.line}`)
    assert.deepEqual(all, ['stdout:hello\n', 'stdout:two\n', 'stderr:three\n'])
    const tail: string[] = []
    for await (const e of readLogs(path, { follow: false, tail: 2 })) tail.push(e.line)
    assert.deepEqual(tail, ['two\n', 'three\n'])
    const since: string[] = []
    for await (const e of readLogs(path, { follow: false, sinceNanos: 1704067201000000000n })) since.push(e.line)
    assert.deepEqual(since, ['two\n', 'three\n'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
