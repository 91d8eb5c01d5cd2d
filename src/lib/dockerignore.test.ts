import assert from 'node:assert/strict'
import { test } from 'node:test'
import { IgnoreRules } from './dockerignore.ts'

test('patterns match within one element; a matched directory excludes what is below it', () => {
  const r = new IgnoreRules('# comment\n*.log\n/build\ntemp?\n[ab].txt\n')
  assert.equal(r.excludes('x.log'), true)
  assert.equal(r.excludes('dir/x.log'), false, '* does not cross /')
  assert.equal(r.excludes('build/out/bin'), true)
  assert.equal(r.excludes('temp1'), true)
  assert.equal(r.excludes('temp12'), false)
  assert.equal(r.excludes('a.txt'), true)
  assert.equal(r.excludes('c.txt'), false)
})

test('** matches any number of directories, at the start, middle or end', () => {
  const r = new IgnoreRules('**/*.tmp\ndocs/**/draft\nvendor/**\n')
  assert.equal(r.excludes('a.tmp'), true)
  assert.equal(r.excludes('x/y/z.tmp'), true)
  assert.equal(r.excludes('docs/draft'), true)
  assert.equal(r.excludes('docs/a/b/draft'), true)
  assert.equal(r.excludes('vendor/lib/x.go'), true)
  assert.equal(r.excludes('src/vendor'), false)
})

test('! re-includes; the last matching line wins', () => {
  const r = new IgnoreRules('*.md\n!README.md\nREADME*.md\n!keep/\nsecret/\n!secret/public\n')
  assert.equal(r.excludes('CHANGES.md'), true)
  assert.equal(r.excludes('README.md'), true, 'README*.md comes after !README.md')
  assert.equal(r.excludes('secret/key'), true)
  assert.equal(r.excludes('secret/public'), false)
  assert.equal(r.excludes('secret/public/x'), false)
  assert.equal(r.hasExceptions, true)
})

test('paths are cleaned: leading slashes, ./ and trailing slashes do not matter', () => {
  const r = new IgnoreRules('./a/../b/\n/c//d\n')
  assert.equal(r.excludes('b'), true)
  assert.equal(r.excludes('b/x'), true)
  assert.equal(r.excludes('c/d'), true)
  assert.equal(new IgnoreRules('\n  \n').empty, true)
})
