import assert from 'node:assert/strict'
import { test } from 'node:test'
import { effectiveLogConfig, logFileLimits, validateLogConfig } from './log-config.ts'
import { expandLogTag, formatSyslog, frameSyslog, parseSyslogAddress, parseSyslogFacility } from './syslog-format.ts'

test('syslog messages in the layouts of Docker’s driver, stdout as info and stderr as err', () => {
  process.env['TZ'] = 'UTC'
  const time = new Date(Date.UTC(2026, 11, 5, 9, 4, 5, 123))
  const layout = { facility: 3, tag: 'web', hostname: 'host1', pid: 42 }
  const line = { stream: 'stdout', time, text: 'hello\n' } as const
  assert.equal(formatSyslog(line, { ...layout, format: 'rfc5424' }), '<30>1 2026-12-05T09:04:05Z host1 web 42 web - hello')
  assert.equal(formatSyslog(line, { ...layout, format: 'rfc5424micro' }), '<30>1 2026-12-05T09:04:05.123000Z host1 web 42 web - hello')
  assert.equal(formatSyslog({ ...line, stream: 'stderr' }, { ...layout, format: 'rfc3164' }), '<27>Dec  5 09:04:05 host1 web[42]: hello')
  assert.equal(formatSyslog(line, { ...layout, format: '' }), '<30>Dec  5 09:04:05 web[42]: hello')
  assert.equal(frameSyslog('<30>1 x', 'rfc5424', true).toString(), '7 <30>1 x')
  assert.equal(frameSyslog('<30>x', '', true).toString(), '<30>x\n')
  assert.equal(frameSyslog('<30>x', 'rfc5424', false).toString(), '<30>x')
})

test('syslog addresses, facilities and tags as Docker reads them', () => {
  assert.deepEqual(parseSyslogAddress('tcp://127.0.0.1:6514'), { kind: 'tcp', host: '127.0.0.1', port: 6514 })
  assert.deepEqual(parseSyslogAddress('udp://[::1]'), { kind: 'udp', host: '::1', port: 514 })
  assert.deepEqual(parseSyslogAddress('unix:///run/syslog.sock'), { kind: 'unix', path: '/run/syslog.sock' })
  assert.deepEqual(parseSyslogAddress(undefined), { kind: 'unixgram', path: '/dev/log' })
  assert.throws(() => parseSyslogAddress('ftp://x'), /unsupported scheme: 'ftp'/)
  assert.throws(() => parseSyslogAddress('127.0.0.1:514'), /proto:\/\/address/)
  assert.equal(parseSyslogFacility('local3'), 19)
  assert.equal(parseSyslogFacility(undefined), 3)
  assert.throws(() => parseSyslogFacility('loud'), /invalid syslog facility/)
  const c = { id: 'a'.repeat(64), name: '/web', image: 'busybox', imageId: `sha256:${'b'.repeat(64)}`, daemonName: 'cais' }
  assert.equal(expandLogTag(undefined, c), 'aaaaaaaaaaaa')
  assert.equal(expandLogTag('{{.Name}}/{{.ImageName}}/{{.ImageID}}', c), 'web/busybox/bbbbbbbbbbbb')
})

test('log configs: the daemon default merges under a container naming no driver; modes and buffers are checked; local has limits', () => {
  const daemon = { Type: 'local', Config: { 'max-file': '2' } }
  assert.deepEqual(effectiveLogConfig({ Type: '', Config: { 'max-size': '1m' } }, daemon), { Type: 'local', Config: { 'max-file': '2', 'max-size': '1m' } })
  assert.deepEqual(effectiveLogConfig({ Type: 'json-file', Config: {} }, daemon), { Type: 'json-file', Config: {} })
  assert.deepEqual(logFileLimits({ Type: 'local', Config: {} }), { maxSize: 20 * 1024 * 1024, maxFile: 5, compress: true })
  assert.deepEqual(logFileLimits({ Type: 'json-file', Config: { compress: 'true' } }), { maxSize: undefined, maxFile: 1, compress: true })
  assert.throws(() => validateLogConfig({ Type: 'local', Config: { compress: 'yes' } }), /error parsing compress option/)
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { 'max-buffer-size': '1m' } }), /only supported with 'mode=non-blocking'/)
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { mode: 'fast' } }), /unknown log mode: fast/)
  assert.throws(() => validateLogConfig({ Type: 'local', Config: { tag: 'x' } }), /unknown log opt 'tag' for local log driver/)
  assert.throws(() => validateLogConfig({ Type: 'syslog', Config: { 'syslog-format': 'json' } }), /invalid syslog format: json/)
  assert.throws(() => validateLogConfig({ Type: 'gelf', Config: {} }), /no log driver named 'gelf'/)
  validateLogConfig({ Type: 'syslog', Config: { 'syslog-address': 'udp://127.0.0.1:514', mode: 'non-blocking', 'max-buffer-size': '4m', tag: '{{.Name}}' } })
})
