import assert from 'node:assert/strict'
import { test } from 'node:test'
import { familiarString, formatReference, parseReference, withDefaultTag } from './reference.ts'

test('references normalise as Docker does', () => {
  const cases: Array<[string, string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['user/app:1', 'docker.io/user/app:1', 'user/app:1'],
    ['docker.io/library/alpine:3', 'docker.io/library/alpine:3', 'alpine:3'],
    ['index.docker.io/library/alpine', 'docker.io/library/alpine:latest', 'alpine:latest'],
    ['localhost:5000/a/b:tag', 'localhost:5000/a/b:tag', 'localhost:5000/a/b:tag'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app:latest'],
    ['registry.example:443/x', 'registry.example:443/x:latest', 'registry.example:443/x:latest'],
  ]
  for (const [input, full, familiar] of cases) {
    const ref = withDefaultTag(parseReference(input))
    assert.equal(formatReference(ref), full, input)
    assert.equal(familiarString(ref), familiar, input)
  }
  const digest = 'sha256:' + 'a'.repeat(64)
  assert.equal(formatReference(withDefaultTag(parseReference(`busybox@${digest}`))), `docker.io/library/busybox@${digest}`)
  assert.equal(formatReference(parseReference(`busybox:1@${digest}`)), `docker.io/library/busybox:1@${digest}`)
})

test('invalid references get Docker messages', () => {
  assert.throws(() => parseReference('Busybox'), /invalid reference format: repository name \(library\/Busybox\) must be lowercase|must be lowercase/)
  for (const bad of ['', 'a b', 'busybox:', ':tag', 'UPPER/x y', 'a//b', 'busybox@sha256:xyz']) {
    assert.throws(() => parseReference(bad), /invalid reference format/, bad)
  }
})
