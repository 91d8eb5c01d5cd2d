import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import WebSocket from 'ws'

/** Debian's Firefox ESR, which playwright-core cannot drive (its BiDi needs a newer Firefox): spoken to directly. */
export const firefoxPath = ['/usr/bin/firefox-esr', '/usr/bin/firefox'].find(existsSync)

/**
 * Preferences that keep the browser to loopback: every other address goes to a proxy that is not there, and the
 * services that phone home are off. Tests send traffic to loopback and their own containers only.
 */
const loopbackOnlyPrefs = {
  'network.proxy.type': 1,
  'network.proxy.http': '127.0.0.1',
  'network.proxy.http_port': 9,
  'network.proxy.ssl': '127.0.0.1',
  'network.proxy.ssl_port': 9,
  'network.proxy.allow_hijacking_localhost': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'app.update.auto': false,
  'app.normandy.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'extensions.update.enabled': false,
  'services.settings.server': 'http://127.0.0.1:9/',
  'toolkit.telemetry.enabled': false,
}

export interface FirefoxPage {
  /** Runs an expression in the page; its value, when it is JSON. */
  evaluate<T>(expression: string): Promise<T>
  /** Evaluates `expression` until it is true; fails with `what` after `timeoutMs`. */
  waitFor(what: string, expression: string, timeoutMs?: number): Promise<void>
  navigate(url: string): Promise<void>
}

/**
 * A headless Firefox on its own profile, driven over WebDriver BiDi (no driver in between): one page, closed, with
 * its profile, when the test ends.
 */
export async function openFirefox(t: TestContext, url: string): Promise<FirefoxPage> {
  const profile = mkdtempSync('/tmp/cais-test-firefox-')
  writeFileSync(join(profile, 'user.js'), Object.entries(loopbackOnlyPrefs).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`).join(''))
  const proc: ChildProcess = spawn(firefoxPath!, ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port=0', 'about:blank'], {
    env: { ...process.env, HOME: profile, MOZ_CRASHREPORTER_DISABLE: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM')
      await new Promise((r) => proc.once('exit', r))
    }
    rmSync(profile, { recursive: true, force: true })
  })
  let log = ''
  const endpoint = await new Promise<string>((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      log += d.toString()
      const m = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(log)
      if (m) resolve(m[1]!)
    })
    proc.once('exit', (code) => reject(new Error(`firefox exited with ${code}: ${log}`)))
    setTimeout(() => reject(new Error(`firefox did not start: ${log}`)), 30_000).unref()
  })
  const ws = new WebSocket(`${endpoint}/session`)
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  t.after(() => ws.close())
  let next = 0
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as { id?: number; type: string; result?: unknown; error?: string; message?: string }
    const waiter = m.id === undefined ? undefined : pending.get(m.id)
    if (!waiter) return
    pending.delete(m.id!)
    if (m.type === 'error') waiter.reject(new Error(`${m.error}: ${m.message}`))
    else waiter.resolve(m.result)
  })
  const call = <T>(method: string, params: Record<string, unknown>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = ++next
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      ws.send(JSON.stringify({ id, method, params }))
    })
  await call('session.new', { capabilities: {} })
  const { contexts } = await call<{ contexts: Array<{ context: string }> }>('browsingContext.getTree', {})
  const context = contexts[0]!.context
  const page: FirefoxPage = {
    async evaluate<T>(expression: string): Promise<T> {
      const r = await call<{ type: string; result?: { type: string; value?: unknown }; exceptionDetails?: { text: string } }>('script.evaluate', {
        expression: `JSON.stringify((() => { return ${expression} })())`,
        target: { context },
        awaitPromise: true,
      })
      if (r.type === 'exception') throw new Error(`in the page: ${r.exceptionDetails?.text ?? 'an exception'}`)
      const text = r.result?.value
      return (typeof text === 'string' ? JSON.parse(text) : undefined) as T
    },
    async waitFor(what, expression, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs
      for (;;) {
        if (await page.evaluate<boolean>(`Boolean(${expression})`).catch(() => false)) return
        if (Date.now() > end) throw new Error(`Firefox: timed out waiting for ${what}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    },
    async navigate(to) {
      await call('browsingContext.navigate', { context, url: to, wait: 'complete' })
    },
  }
  await page.navigate(url)
  return page
}
