import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { test } from 'node:test'
import { dockerdBin, startDockerd } from '../helpers/dockerd.ts'
import { chromiumPath, openBrowser, startDashboardCli } from './helpers.ts'

declare const document: { querySelectorAll(selector: string): Iterable<{ textContent: string | null }> }

const skip = !dockerdBin ? "Debian's dockerd is not installed (apt-get install docker.io)" : !chromiumPath ? 'chromium is not installed' : false

test("the dashboard drives Debian's dockerd too: containers, a terminal, the layer explorer of dockerd's save", { skip }, async (t) => {
  const d = await startDockerd(t)
  const dir = mkdtempSync('/tmp/cais-test-dashboard-')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const started = await d.cli('run', '-d', '--name', 'on-dockerd', '--network', 'none', 'busybox', 'sleep', '300')
  assert.equal(started.code, 0, started.stderr)
  const id = started.stdout.trim()
  const dash = await startDashboardCli(t, { host: d.host, dir })
  const browser = await openBrowser(t, dash.url)
  const { page } = browser
  await page.waitForSelector('[data-testid=containers] tr[data-name=on-dockerd][data-state=running]')
  assert.match((await page.textContent('[data-testid=engine]')) ?? '', /docker\.sock/)

  await page.goto(`${dash.origin}/#/containers/${id}/terminal`)
  await page.waitForSelector('[data-testid=terminal-status]:text("connected")')
  await page.locator('[data-testid=terminal]').click()
  await page.keyboard.type('echo $((6*7))\n')
  await page.waitForFunction(() => /^42\s*$/m.test([...document.querySelectorAll('.xterm-rows > div')].map((r) => r.textContent).join('\n')))

  const image = (await d.cli('image', 'inspect', '-f', '{{.Id}}', 'busybox')).stdout.trim()
  await page.goto(`${dash.origin}/#/images/${image}/layers`)
  await page.waitForSelector('[data-testid=files] [data-path="bin/busybox"]')
  assert.equal(await page.getAttribute('[data-testid=wasted]', 'data-bytes'), '0')
  await browser.shot('dockerd-layers')
  assert.deepEqual(browser.problems, [])
})
