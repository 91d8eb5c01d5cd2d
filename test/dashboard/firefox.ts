import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import type { TestContext } from 'node:test'
import puppeteer, { type Page } from 'puppeteer-core'

/** Debian's Firefox ESR, which Playwright cannot drive: puppeteer-core drives it over WebDriver BiDi. */
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

/** A headless Firefox on a profile of its own, with one page at `url`; closed, with its profile, when the test ends. */
export async function openFirefox(t: TestContext, url: string): Promise<{ page: Page; problems: string[] }> {
  const home = mkdtempSync('/tmp/cais-test-firefox-')
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: firefoxPath!,
    headless: true,
    extraPrefsFirefox: loopbackOnlyPrefs,
    env: { ...process.env, HOME: home, MOZ_CRASHREPORTER_DISABLE: '1' },
  })
  t.after(async () => {
    await browser.close().catch(() => {})
    rmSync(home, { recursive: true, force: true })
  })
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${(err as Error).message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
  await page.goto(url)
  return { page, problems }
}
