import assert from 'node:assert/strict'
import { test } from 'node:test'
import { keepPreloadToSelf } from './allocator.ts'

test("the daemon's own preload is taken off what it passes on; another one stays", () => {
  const env: NodeJS.ProcessEnv = { LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2:/opt/other.so', MALLOC_CONF: 'background_thread:true', CAIS_PRELOADED: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', PATH: '/bin' }
  keepPreloadToSelf(env)
  assert.deepEqual(env, { LD_PRELOAD: '/opt/other.so', PATH: '/bin' })
  const alone: NodeJS.ProcessEnv = { LD_PRELOAD: '/j.so', CAIS_PRELOADED: '/j.so' }
  keepPreloadToSelf(alone)
  assert.deepEqual(alone, {})
  const untouched: NodeJS.ProcessEnv = { LD_PRELOAD: '/mine.so', MALLOC_CONF: 'x' }
  keepPreloadToSelf(untouched)
  assert.deepEqual(untouched, { LD_PRELOAD: '/mine.so', MALLOC_CONF: 'x' })
})
