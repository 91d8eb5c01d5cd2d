import assert from 'node:assert/strict'
import { test } from 'node:test'
import { commandEntries } from './main.ts'

test('every command entry agrees with the module it loads', async () => {
  const seen = new Set<string>()
  for (const e of commandEntries) {
    const c = await e.load()
    assert.equal(c.name, e.name)
    assert.equal(c.group, e.group, c.name)
    assert.equal(c.groupAlias, e.groupAlias, c.name)
    assert.equal(c.topLevel === false, e.topLevel === false, c.name)
    const key = `${c.group} ${c.name}`
    assert.ok(!seen.has(key), `${key} listed twice`)
    seen.add(key)
  }
})
