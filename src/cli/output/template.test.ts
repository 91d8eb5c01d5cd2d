import assert from 'node:assert/strict'
import { test } from 'node:test'
import { renderTemplate } from './template.ts'

test('the --format subset of Go templates', () => {
  const data = { ID: 'abc', State: { Status: 'running' }, Labels: { a: 'b' }, Env: ['A=1'] }
  assert.equal(renderTemplate('{{.ID}}\\t{{.State.Status}}', data), 'abc\trunning')
  assert.equal(renderTemplate('{{json .Env}}', data), '["A=1"]')
  assert.equal(renderTemplate('{{ .Label "a" }}', data), 'b')
  assert.equal(renderTemplate('{{index .Labels "a"}}', data), 'b')
  assert.equal(renderTemplate('{{.Missing}}', data), '<no value>')
  assert.equal(renderTemplate('{{upper .ID}}', data), 'ABC')
})
