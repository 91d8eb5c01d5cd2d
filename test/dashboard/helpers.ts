// The dashboard as users start it (`cais dashboard`), a real Chromium to drive it, and raw HTTP to probe its guards.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { type Browser, type Page, chromium } from 'playwright-core'
import { caisBin } from '../helpers/daemon.ts'

export const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync)

export interface RunningDashboard {
  url: string
  origin: string
  port: number
  /** What it printed on stderr: its audit lines. */
  stderr(): string
  proc: ChildProcess
}

/** Runs `cais dashboard` against a daemon; resolves with the URL it printed. */
export async function startDashboardCli(t: TestContext, daemon: { host: string; dir: string }, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningDashboard> {
  const proc = spawn(caisBin, ['dashboard', '--listen', '127.0.0.1:0', ...args], {
    // Its cache (layer indexes) and state (history, alerts) in the test's own directory, removed with it.
    env: { ...process.env, CAIS_HOST: daemon.host, XDG_CACHE_HOME: join(daemon.dir, 'cache'), XDG_STATE_HOME: join(daemon.dir, 'state'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => {
    if (proc.exitCode === null) proc.kill('SIGTERM')
  })
  let out = ''
  let err = ''
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /(http:\/\/\S+\?token=\S+)/.exec(out)
      if (m) resolve(m[1]!)
    })
    proc.once('exit', (code) => reject(new Error(`cais dashboard exited with ${code}: ${err}`)))
    setTimeout(() => reject(new Error(`cais dashboard printed no URL: ${out} ${err}`)), 30_000).unref()
  })
  const u = new URL(url)
  return { url, origin: u.origin, port: Number(u.port), stderr: () => err, proc }
}

export interface RawReply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export function http(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { Host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Trades the one-time token for a session cookie, as the browser does when it opens the URL. */
export async function signIn(d: RunningDashboard): Promise<{ cookie: string; csrf: string }> {
  const u = new URL(d.url)
  const r = await http(d.port, 'GET', `/?${u.searchParams.toString()}`)
  if (r.status !== 303) throw new Error(`sign-in answered ${r.status}`)
  const cookie = String(r.headers['set-cookie']).split(';')[0]!
  const session = JSON.parse((await http(d.port, 'GET', '/api/session', { Cookie: cookie })).body) as { csrf: string }
  return { cookie, csrf: session.csrf }
}

/** Where screenshots go: `$CAIS_TEST_LOG_DIR`, when set; otherwise none are taken, and nothing is left behind. */
export const screenshotDir = (): string | undefined => {
  const dir = process.env['CAIS_TEST_LOG_DIR']
  if (dir) mkdirSync(dir, { recursive: true })
  return dir
}

/**
 * A Chromium page on the dashboard, signed in with the URL's token. Page errors and console errors (a CSP
 * violation is one) are collected: a test ends by checking there were none.
 */
export async function openBrowser(t: TestContext, url: string): Promise<{ page: Page; browser: Browser; problems: string[]; shot: (name: string) => Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: chromiumPath!,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'],
  })
  t.after(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
  await page.goto(url)
  const shot = async (name: string): Promise<void> => {
    const dir = screenshotDir()
    if (dir) await page.screenshot({ path: join(dir, `dashboard-${name}.png`) })
  }
  return { page, browser, problems, shot }
}
