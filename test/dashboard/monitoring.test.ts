import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { BUSYBOX, startDaemon } from '../helpers/daemon.ts'
import { chromiumPath, http, openBrowser, startDashboardCli } from './helpers.ts'

declare const document: { querySelector(selector: string): { textContent: string | null } | null }

interface FiredAlert {
  kind: string
  container: { name: string }
  message: string
}

test('alerts fire on an exit 1 and on an OOM kill, reach the webhook and the page; the history records a busy container', { skip: chromiumPath ? false : 'chromium is not installed' }, async (t) => {
  const d = await startDaemon(t)
  const hooked: FiredAlert[] = []
  const hook = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      hooked.push(JSON.parse(Buffer.concat(chunks).toString()) as FiredAlert)
      res.end()
    })
  })
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()))
  t.after(() => hook.close())
  const dash = await startDashboardCli(t, d, ['--sample-interval', '1', '--alert-webhook', `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, '--state-dir', `${d.dir}/dashboard-state`])
  const browser = await openBrowser(t, dash.url)
  const { page } = browser
  await page.waitForSelector('nav.sidebar')

  const run = async (name: string, cmd: string, hostConfig: Record<string, unknown> = {}): Promise<void> => {
    const { Id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', cmd], HostConfig: { NetworkMode: 'none', ...hostConfig } }, { name })
    await d.client.containers.start(Id)
  }
  await run('busy', 'yes > /dev/null')
  await run('failing', 'sleep 0.5; exit 1')
  // Doubling a shell variable until the 16 MiB limit kills it.
  await run('hungry', 'x=aaaaaaaa; while :; do x=$x$x; done', { Memory: 16 * 1024 * 1024, MemorySwap: 16 * 1024 * 1024 })

  const byKind = (alerts: FiredAlert[]): string[] => alerts.map((a) => `${a.kind} ${a.container.name}`).sort()
  // Slow only under load (the whole suite on 2 cores): an OOM kill of a shell racing a busy container.
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=alert-count]')?.textContent) >= 3, undefined, { timeout: 60_000 }).catch(async (err: unknown) => {
    const state = (await d.docker('inspect', '-f', '{{json .State}}', 'failing', 'hungry')).stdout
    throw new Error(`fewer than 3 alerts on the page; the webhook had ${JSON.stringify(byKind(hooked))}; states: ${state}`, { cause: err })
  })
  assert.equal((await d.docker('inspect', '-f', '{{.State.OOMKilled}}', 'hungry')).stdout.trim(), 'true')
  const expected = ['exit-nonzero failing', 'exit-nonzero hungry', 'oom hungry']
  for (let i = 0; i < 50 && hooked.length < 3; i++) await new Promise((r) => setTimeout(r, 100))
  assert.deepEqual(byKind(hooked), expected)
  assert.match(hooked.find((a) => a.kind === 'exit-nonzero' && a.container.name === 'failing')!.message, /failing exited with code 1/)

  await page.goto(`${dash.origin}/#/alerts`)
  await page.waitForSelector('[data-testid=alert-history] tr[data-kind=oom][data-container=hungry]')
  assert.equal(await page.locator('[data-testid=alert-history] tbody tr').count(), 3)
  await browser.shot('alerts')

  // The monitor samples whether or not a page shows it: the history has the busy container's CPU.
  // The page holds the session the token opened: raw calls use its cookie.
  const session = (await page.context().cookies()).find((c) => c.name === 'cais_dashboard')!
  const cookie = `${session.name}=${session.value}`
  let peak = 0
  for (let i = 0; i < 50 && peak < 20; i++) {
    const history = JSON.parse((await http(dash.port, 'GET', '/api/history?range=3600000', { Cookie: cookie })).body) as { ticks: Array<{ samples: Array<{ name: string; cpuPercent: number }> }> }
    peak = Math.max(0, ...history.ticks.flatMap((x) => x.samples.filter((s) => s.name === 'busy').map((s) => s.cpuPercent)))
    if (peak < 20) await new Promise((r) => setTimeout(r, 200))
  }
  assert.ok(peak > 20, `the busy container's peak CPU in the history: ${peak}`)
  await page.goto(`${dash.origin}/#/history`)
  await page.waitForSelector('[data-testid=history-containers] tr[data-name=busy]')
  await page.waitForTimeout(300)
  await browser.shot('history')
  assert.deepEqual(browser.problems, [])
})


test('alert rules edited in the page: checked by the server, saved where they are kept, in force at once and after a restart', { skip: chromiumPath ? false : 'chromium is not installed' }, async (t) => {
  const d = await startDaemon(t)
  const stateDir = `${d.dir}/dashboard-state`
  const dash = await startDashboardCli(t, d, ['--sample-interval', '1', '--state-dir', stateDir])
  const browser = await openBrowser(t, dash.url)
  const { page } = browser
  await page.goto(`${dash.origin}/#/alerts`)
  await page.click('button[data-action=edit-rules]')
  // The defaults: unhealthy, exit-nonzero, oom, restarts, cpu, memory. exit-nonzero goes; cpu's threshold drops.
  await page.getByLabel('Remove rule 2').click()
  await page.getByLabel('Rule 4 percent').fill('0')
  await page.click('button[data-action=save-rules]')
  await page.waitForSelector('[data-testid=rules-editor] .error:has-text("percent must be a positive number")')
  await page.getByLabel('Rule 4 percent').fill('50')
  await page.getByLabel('Rule 5 kind').selectOption('restarts')
  await page.click('button[data-action=save-rules]')
  await page.waitForSelector('[data-testid=rules-saved]')
  await page.waitForSelector('[data-testid=alert-rules] li:has-text("CPU above 50% for 5 min")')
  await browser.shot('alert-rules')
  const saved = JSON.parse(readFileSync(join(stateDir, 'alert-rules.json'), 'utf8')) as Array<{ kind: string }>
  assert.deepEqual(saved.map((r) => r.kind), ['unhealthy', 'oom', 'restarts', 'cpu', 'restarts'])

  // No exit-nonzero rule any more: a failing container fires nothing, where an OOM kill still does.
  const run = async (name: string, cmd: string, hostConfig: Record<string, unknown> = {}): Promise<void> => {
    const { Id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', cmd], HostConfig: { NetworkMode: 'none', ...hostConfig } }, { name })
    await d.client.containers.start(Id)
  }
  await run('failing', 'exit 1')
  await run('hungry', 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done', { Memory: 16 * 1024 * 1024, MemorySwap: 16 * 1024 * 1024 })
  await page.waitForSelector('[data-testid=alert-history] tr[data-kind=oom][data-container=hungry]', { timeout: 30_000 })
  assert.equal(await page.locator('[data-testid=alert-history] tr[data-kind=exit-nonzero]').count(), 0)

  const problems = browser.problems.filter((p) => !/status of 400|Failed to load resource/.test(p))
  dash.proc.kill('SIGTERM')
  await new Promise((r) => dash.proc.once('exit', r))
  const again = await startDashboardCli(t, d, ['--state-dir', stateDir])
  const second = await openBrowser(t, again.url)
  await second.page.goto(`${again.origin}/#/alerts`)
  await second.page.waitForSelector('[data-testid=alert-rules] li:has-text("CPU above 50% for 5 min")')
  assert.equal(await second.page.locator('[data-testid=alert-rules] li').count(), 5, 'the saved rules, after a restart')
  assert.match(dash.stderr(), /"method":"PUT","path":"\/api\/alerts\/rules","status":200/)
  assert.deepEqual(problems, [], 'before the first dashboard stopped')
})
