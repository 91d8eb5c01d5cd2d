// A smoke subset of the dashboard in Firefox (Debian's ESR, through puppeteer-core over WebDriver BiDi): the page
// signs in from the token, the live list follows the engine, an action reaches it, logs and other views render.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BUSYBOX, startDaemon } from '../helpers/daemon.ts'
import { firefoxPath, openFirefox } from './firefox.ts'
import { startDashboardCli } from './helpers.ts'

declare const document: { body: { textContent: string | null } }

test('in Firefox: sign-in by the token, the live container list, a stop from the page, a log, the other views', { skip: firefoxPath ? false : 'firefox-esr is not installed' }, async (t) => {
  const d = await startDaemon(t)
  const run = async (name: string, cmd: string): Promise<string> => {
    const { Id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', cmd], HostConfig: { NetworkMode: 'none' } }, { name })
    await d.client.containers.start(Id)
    return Id
  }
  await run('ff-sleeper', 'trap "exit 0" TERM; while :; do sleep 0.2; done')
  const talker = await run('ff-talker', 'echo hello-from-firefox-test; exec sleep 300')
  const dash = await startDashboardCli(t, d)
  const { page, problems } = await openFirefox(t, dash.url)
  await page.waitForSelector('[data-testid=containers] tr[data-name=ff-sleeper][data-state=running]')
  assert.equal(new URL(page.url()).search, '', 'the token was traded for a session and left the address')

  await run('ff-late', 'exec sleep 300')
  await page.waitForSelector('[data-testid=containers] tr[data-name=ff-late]')
  await page.click('input[aria-label="Select ff-sleeper"]')
  await page.click('button[data-action=stop]')
  await page.waitForSelector('[data-testid=containers] tr[data-name=ff-sleeper][data-state=exited]', { timeout: 20_000 })
  assert.equal((await d.client.containers.inspect('ff-sleeper')).State.Status, 'exited')

  await page.goto(`${dash.origin}/#/containers/${talker}/logs`)
  await page.waitForFunction(() => document.body.textContent?.includes('hello-from-firefox-test'))
  for (const [view, selector] of [['images', '[data-testid=images]'], ['volumes', '[data-testid=volumes]'], ['networks', '[data-testid=networks]'], ['system', 'main h1']] as const) {
    await page.goto(`${dash.origin}/#/${view}`)
    await page.waitForSelector(selector)
  }
  const engine = await page.waitForSelector('[data-testid=engine-name]')
  assert.match(String(await engine?.evaluate((e: { textContent: string | null }) => e.textContent)), /cais\.sock/)
  assert.deepEqual(problems, [])
})
