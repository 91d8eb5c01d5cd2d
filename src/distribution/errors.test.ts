import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeErrors, describeError, encodeErrors } from './errors.ts'

test('distribution errors: what the registry encodes, the client decodes and words as Docker does', () => {
  const body = encodeErrors({ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: { digest: 'sha256:ab' } }, { code: 'DENIED', message: 'requested access to the resource is denied' })
  assert.equal(body, '{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":{"digest":"sha256:ab"}},{"code":"DENIED","message":"requested access to the resource is denied","detail":null}]}')
  const entries = decodeErrors(Buffer.from(body))
  assert.deepEqual(entries.map(describeError), ['blob unknown: blob unknown to registry', 'denied: requested access to the resource is denied'])
  assert.deepEqual(decodeErrors('<html>502 Bad Gateway</html>'), [])
  assert.deepEqual(decodeErrors('{"errors":"no"}'), [])
  assert.deepEqual(decodeErrors('{"errors":[{"message":"no code"}]}'), [{ code: 'UNKNOWN', message: 'no code', detail: undefined }])
})
