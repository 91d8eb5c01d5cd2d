import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import WebSocket from 'ws'
import { makeDockerArchive, makeTar } from '../helpers/archive.ts'
import { BUSYBOX, caisBin, caisdBin, runCommand, startDaemon } from '../helpers/daemon.ts'
import { startRegistry } from '../helpers/registry.ts'
import { chromiumPath, http, openBrowser, signIn, startDashboardCli } from './helpers.ts'

/** The little of the DOM the page predicates below use (they run in the browser; this file has no DOM types). */
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null
  querySelectorAll(selector: string): Iterable<{ textContent: string | null }>
}

const requestsOf = (logs: string): number => logs.split('\n').filter((l) => l.includes('"msg":"request"')).length

/** Opens a WebSocket; resolves with the status of a refused upgrade, or 101. */
function upgradeStatus(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers })
    ws.once('open', () => {
      ws.close()
      resolve(101)
    })
    ws.once('unexpected-response', (_req, res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    ws.once('error', reject)
  })
}

test('trust: the token works once; no session, a wrong Host, another origin or no CSRF token are refused before any engine call', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  // The monitor's own calls (a sample at start, the event stream) come first and then no more for an hour.
  const dash = await startDashboardCli(t, d, ['--sample-interval', '3600'])
  const port = dash.port
  let engineCalls = -1
  while (engineCalls !== requestsOf(d.logs())) {
    engineCalls = requestsOf(d.logs())
    await new Promise((r) => setTimeout(r, 500))
  }

  assert.equal((await http(port, 'GET', '/')).status, 401)
  assert.equal((await http(port, 'GET', '/api/containers')).status, 401)
  assert.equal((await http(port, 'GET', '/?token=forged')).status, 401)
  // DNS rebinding: a page on another name that resolves to 127.0.0.1.
  const rebound = await http(port, 'GET', '/api/containers', { Host: `evil.example:${port}` })
  assert.deepEqual([rebound.status, JSON.parse(rebound.body)], [403, { message: 'host not allowed' }])

  const { cookie, csrf } = await signIn(dash)
  const again = new URL(dash.url)
  assert.equal((await http(port, 'GET', `/?${again.searchParams.toString()}`)).status, 401, 'the token is one-time')
  const page = await http(port, 'GET', '/', { Cookie: cookie })
  assert.equal(page.status, 200)
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/)
  assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/)

  const stop = (headers: Record<string, string>): Promise<number> => http(port, 'POST', '/api/containers/nothing/stop', { Cookie: cookie, ...headers }).then((r) => r.status)
  assert.equal(await stop({ Origin: dash.origin }), 403, 'no CSRF token')
  assert.equal(await stop({ Origin: dash.origin, 'X-CSRF-Token': 'forged' }), 403, 'a wrong CSRF token')
  assert.equal(await stop({ Origin: 'http://evil.example', 'X-CSRF-Token': csrf }), 403, 'another origin')
  assert.equal(await stop({ 'X-CSRF-Token': csrf }), 403, 'no origin')

  assert.equal(await upgradeStatus(port, '/ws/events', { Origin: dash.origin }), 401, 'an upgrade without a session')
  assert.equal(await upgradeStatus(port, '/ws/events', { Origin: 'http://evil.example', Cookie: cookie }), 403, 'a cross-origin upgrade')
  assert.equal(await upgradeStatus(port, `/ws/exec?id=x`, { Origin: dash.origin, Cookie: cookie }), 403, 'an exec without the CSRF token')
  assert.equal(requestsOf(d.logs()), engineCalls, 'no refused request reached the engine')

  // Accepted: the engine's own error comes through with its status, and the action is audited with the session.
  const accepted = await http(port, 'POST', '/api/containers/nothing/stop', { Cookie: cookie, Origin: dash.origin, 'X-CSRF-Token': csrf })
  assert.deepEqual([accepted.status, JSON.parse(accepted.body)], [404, { message: 'No such container: nothing' }])
  for (let i = 0; i < 50 && !dash.stderr().includes('"msg":"audit"'); i++) await new Promise((r) => setTimeout(r, 50))
  assert.match(dash.stderr(), /"msg":"audit","identity":"token","session":"[\w-]{8}","method":"POST","path":"\/api\/containers\/nothing\/stop","status":404/)
  assert.equal(await upgradeStatus(port, '/ws/events', { Origin: dash.origin, Cookie: cookie }), 101)
})

test('a non-loopback listener does not start without TLS, nor with TLS but neither client certificates nor a password', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const plain = await runCommand(caisBin, ['dashboard', '--listen', '0.0.0.0:0'], { env: { CAIS_HOST: d.host } })
  assert.equal(plain.code, 1)
  assert.match(plain.stderr, /not a loopback address, only with TLS/)
  // caisd refuses it before it sets anything up (its network among them).
  const caisd = await runCommand(caisdBin, ['--root', `${d.dir}/r2`, '--exec-root', `${d.dir}/x2`, '-H', `unix://${d.dir}/2.sock`, '--dashboard-listen', '0.0.0.0:0'])
  assert.deepEqual([caisd.code, caisd.stderr.split('\n')[0]], [125, 'caisd: --dashboard-listen 0.0.0.0:0 is not a loopback address: it needs --tls (or --tlsverify) with --tlscert and --tlskey'])
  const noTrust = await runCommand(caisdBin, ['--root', `${d.dir}/r2`, '--exec-root', `${d.dir}/x2`, '-H', `unix://${d.dir}/2.sock`, '--tls', '--dashboard-listen', '0.0.0.0:0'])
  assert.equal(noTrust.code, 125)
  assert.match(noTrust.stderr, /needs client certificates \(--tlsverify\) or --dashboard-password-file/)
})

test('a password file opens sessions too: a wrong password is refused and audited, the right one gets a cookie', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const hashed = await runCommand(caisBin, ['dashboard', '--hash-password'], { input: 'open sesame\n' })
  assert.equal(hashed.code, 0, hashed.stderr)
  assert.match(hashed.stdout, /^scrypt:[0-9a-f]{32}:[0-9a-f]{64}\n$/)
  writeFileSync(join(d.dir, 'password'), hashed.stdout)
  const dash = await startDashboardCli(t, d, ['--sample-interval', '3600', '--password-file', join(d.dir, 'password')])
  const page = await http(dash.port, 'GET', '/')
  assert.equal(page.status, 401)
  assert.match(page.body, /<form method="post" action="\/login">/)
  const login = (password: string, origin = dash.origin): ReturnType<typeof http> =>
    http(dash.port, 'POST', '/login', { Origin: origin, 'Content-Type': 'application/x-www-form-urlencoded' }, `password=${encodeURIComponent(password)}`)
  assert.equal((await login('open sesame', 'http://evil.example')).status, 403)
  const wrong = await login('open says me')
  assert.equal(wrong.status, 401)
  assert.equal(wrong.headers['set-cookie'], undefined)
  const right = await login('open sesame')
  assert.equal(right.status, 303)
  const cookie = String(right.headers['set-cookie']).split(';')[0]!
  const session = JSON.parse((await http(dash.port, 'GET', '/api/session', { Cookie: cookie })).body) as { identity: string }
  assert.equal(session.identity, 'password')
  for (let i = 0; i < 50 && !dash.stderr().includes('login refused'); i++) await new Promise((r) => setTimeout(r, 50))
  assert.match(dash.stderr(), /"action":"login refused"/)
})

/** An image of three layers with known files: one later overwritten, one later deleted. */
async function layeredImage(): Promise<Buffer> {
  const l1 = await makeTar([
    { name: 'data/', type: 'directory' },
    { name: 'data/a', content: 'a'.repeat(1000) },
    { name: 'data/b', content: 'b'.repeat(300) },
    { name: 'etc/', type: 'directory' },
    { name: 'etc/x', content: 'x'.repeat(10) },
  ])
  const l2 = await makeTar([{ name: 'data/', type: 'directory' }, { name: 'data/a', content: 'A'.repeat(500) }, { name: 'data/.wh.b' }])
  const l3 = await makeTar([{ name: 'data/', type: 'directory' }, { name: 'data/c', content: 'c'.repeat(20) }])
  return (await makeDockerArchive([l1, l2, l3], { tag: 'layered:test' })).archive
}

test('in Chromium: live containers, stop from the UI, logs filtered, a terminal, stats under load, the layer explorer', { skip: chromiumPath ? false : 'chromium is not installed' }, async (t) => {
  const d = await startDaemon(t)
  const none = { NetworkMode: 'none' }
  const run = async (name: string, cmd: string): Promise<string> => {
    const { Id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', cmd], HostConfig: none }, { name })
    await d.client.containers.start(Id)
    return Id
  }
  const sleeper = await run('sleeper', 'trap "exit 0" TERM; while :; do sleep 0.2; done')
  const talker = await run('talker', `for i in 1 2 3 4 5 6 7 8 9 10; do echo "alpha $i"; echo "beta $i"; done; printf '\\033[31mred\\033[0m\\n'; exec sleep 1000`)
  await d.client.images.load(Readable.from(await layeredImage()))
  const dash = await startDashboardCli(t, d)
  const browser = await openBrowser(t, dash.url)
  const { page, problems } = browser
  const shot = (name: string): Promise<void> => browser.shot(name)

  // The list is live: a container created after the page opened shows up without a reload.
  await page.waitForSelector('[data-testid=containers] tr[data-name=sleeper][data-state=running]')
  const spinner = await run('spinner', 'yes > /dev/null')
  await page.waitForSelector('[data-testid=containers] tr[data-name=spinner][data-state=running]')
  await shot('containers')

  await page.getByLabel('Select sleeper').check()
  await page.click('button[data-action=stop]')
  await page.waitForSelector('[data-testid=containers] tr[data-name=sleeper][data-state=exited]', { timeout: 20_000 })
  assert.equal((await d.docker('inspect', '-f', '{{.State.Status}}', sleeper)).stdout.trim(), 'exited')

  // Files of the stopped container: browse, upload, download; a path climbing out stays inside the container.
  await page.goto(`${dash.origin}/#/containers/${sleeper}/files`)
  await page.click('[data-testid=files-list] tr[data-name=etc] a')
  await page.waitForSelector('[data-testid=files-list] tr[data-name=passwd][data-kind=file]')
  assert.equal(await page.textContent('[data-testid=files-path]'), '/etc')
  await page.getByLabel('Upload files').setInputFiles({ name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from('uploaded from the dashboard\n') })
  await page.waitForSelector('[data-testid=files-list] tr[data-name="note.txt"]')
  await shot('files')
  const copied = await d.docker('cp', `${sleeper}:/etc/note.txt`, '-')
  assert.match(copied.stdout, /uploaded from the dashboard/)
  const session = (await page.context().cookies()).find((c) => c.name === 'cais_dashboard')!
  const cookie = { Cookie: `${session.name}=${session.value}` }
  const passwd = await http(dash.port, 'GET', `/api/containers/${sleeper}/files/download?path=${encodeURIComponent('/../../../../etc/passwd')}`, cookie)
  assert.equal(passwd.status, 200)
  assert.deepEqual(passwd.body.trim().split('\n').map((l) => l.split(':')[0]), ['root', 'daemon', 'nobody'], 'the passwd of the container, not of the host')
  const { csrf } = JSON.parse((await http(dash.port, 'GET', '/api/session', cookie)).body) as { csrf: string }
  const badName = await http(dash.port, 'PUT', `/api/containers/${sleeper}/files?path=/etc&name=..%2Fescape`, { ...cookie, Origin: dash.origin, 'X-CSRF-Token': csrf }, 'x')
  assert.deepEqual([badName.status, JSON.parse(badName.body)], [400, { message: 'name must be a plain file name' }])

  await page.goto(`${dash.origin}/#/containers/${talker}/logs`)
  await page.waitForFunction(() => document.querySelector('[data-testid=log-count]')?.textContent === '21 of 21 lines')
  await page.getByLabel('Search the log (regular expression)').fill('^beta [2-4]$')
  await page.waitForFunction(() => document.querySelector('[data-testid=log-count]')?.textContent === '3 of 21 lines')
  assert.deepEqual(await page.locator('[data-testid=log-lines] .logline').allTextContents(), ['beta 2', 'beta 3', 'beta 4'])
  await page.getByLabel('Search the log (regular expression)').fill('red')
  assert.equal(await page.locator('[data-testid=log-lines] .logline .ansi-31').textContent(), 'red')
  await shot('logs')

  await page.goto(`${dash.origin}/#/containers/${talker}/terminal`)
  await page.waitForFunction(() => document.querySelector('[data-testid=terminal-status]')?.textContent === 'connected')
  await page.locator('[data-testid=terminal]').click()
  await page.keyboard.type('echo $((6*7))\n')
  await page.waitForFunction(() => /^42\s*$/m.test([...document.querySelectorAll('.xterm-rows > div')].map((r) => r.textContent).join('\n')))
  await shot('terminal')
  await page.keyboard.type('exit 3\n')
  await page.waitForFunction(() => document.querySelector('[data-testid=terminal-status]')?.textContent === 'exited with code 3')

  await page.goto(`${dash.origin}/#/containers/${spinner}/stats`)
  await page.waitForFunction(() => Number.parseFloat(document.querySelector('[data-testid=cpu]')?.textContent ?? '0') > 20, undefined, { timeout: 20_000 })
  await page.waitForTimeout(2500)
  await shot('stats')

  const images = await d.client.images.list()
  const layered = images.find((i) => (i.RepoTags ?? []).includes('layered:test'))!
  await page.goto(`${dash.origin}/#/images`)
  await page.waitForSelector(`[data-testid=images] tr[data-id="${layered.Id}"]`)
  await shot('images')
  await page.goto(`${dash.origin}/#/images/${layered.Id}/layers`)
  await page.waitForSelector('[data-testid=wasted]')
  assert.equal(await page.getAttribute('[data-testid=wasted]', 'data-bytes'), '2100')
  assert.equal(Number(await page.getAttribute('[data-testid=efficiency]', 'data-value')), (500 + 300 + 10 + 20) / (1500 + 600 + 10 + 20))
  await page.click('[data-testid=layers] tr[data-layer="1"]')
  await page.waitForSelector('[data-testid=files] [data-path="data/b"]')
  const marks = await Promise.all((await page.locator('[data-testid=files] .file').all()).map(async (r) => `${await r.getAttribute('data-mark')} ${await r.getAttribute('data-path')}`))
  assert.deepEqual(marks, ['modified data', 'modified data/a', 'deleted data/b'])
  await shot('layers')

  // A compose project made by cais compose shows as a stack; stopping it from the UI stops its containers.
  mkdirSync(join(d.dir, 'shop'))
  writeFileSync(join(d.dir, 'shop', 'compose.yaml'), 'services:\n  web:\n    image: busybox\n    command: ["sleep", "300"]\n    network_mode: none\n    stop_signal: SIGKILL\n')
  const up = await d.cli('compose', '-f', join(d.dir, 'shop', 'compose.yaml'), '-p', 'shop', 'up', '-d')
  assert.equal(up.code, 0, up.stderr)
  await page.goto(`${dash.origin}/#/stacks`)
  await page.waitForSelector('[data-project=shop] [data-testid=stack-running]:text("1/1 running")')
  await shot('stacks')
  await page.click('[data-project=shop] button[data-action=stop]')
  await page.waitForSelector('[data-project=shop] [data-testid=stack-running]:text("0/1 running")', { timeout: 20_000 })
  assert.equal((await d.docker('ps', '-q', '--filter', 'label=com.docker.compose.project=shop')).stdout.trim(), '')

  for (const view of ['volumes', 'networks', 'events', 'system']) {
    await page.goto(`${dash.origin}/#/${view}`)
    await page.waitForSelector('main h1')
    await page.waitForTimeout(300)
    await shot(view)
  }
  await page.goto(`${dash.origin}/#/containers/${talker}/inspect`)
  await page.waitForSelector('.json-node')
  await shot('inspect')
  assert.deepEqual(problems, [])
})

test('in Chromium: push and pull with each layer\'s progress, an engine error shown, prune of dangling images', { skip: chromiumPath ? false : 'chromium is not installed' }, async (t) => {
  const d = await startDaemon(t)
  const registry = await startRegistry(t)
  // An image with a layer of its own (2 MB of random bytes), tagged for the test's registry.
  const maker = await d.cli('run', '--name', 'maker', '--network', 'none', BUSYBOX, 'sh', '-c', 'head -c 2000000 /dev/urandom > /blob')
  assert.equal(maker.code, 0, maker.stderr)
  const ref = `${registry.address}/dash/big:1`
  assert.equal((await d.cli('commit', 'maker', ref)).code, 0)
  assert.equal((await d.cli('rm', 'maker')).code, 0)

  const dash = await startDashboardCli(t, d)
  const { page, problems, shot } = await openBrowser(t, dash.url)
  await page.goto(`${dash.origin}/#/images`)
  await page.click(`button[data-push="${ref}"]`)
  const pushed = `[data-testid=transfer][data-kind=push][data-image="${ref}"]`
  await page.waitForSelector(`${pushed}[data-state=done]`, { timeout: 60_000 })
  const statuses = async (rows: string): Promise<Array<string | null>> => Promise.all((await page.locator(`${rows} tr[data-layer]`).all()).map((r) => r.getAttribute('data-status')))
  const pushStatuses = await statuses(pushed)
  assert.equal(pushStatuses.length, 2, `a row per layer: ${pushStatuses.join(', ')}`)
  assert.ok(pushStatuses.every((s) => s === 'Pushed'), pushStatuses.join(', '))
  await shot('push')
  assert.match(dash.stderr(), new RegExp(`"action":"push ${ref.replaceAll('.', '\\.')}"`), 'the push is in the audit log')

  // Gone here, pulled back from the UI: its own layer downloads (with a total to show), the base one exists already.
  assert.equal((await d.cli('rmi', ref)).code, 0)
  await page.getByLabel('Image to pull').fill(ref)
  await page.click('form.toolbar button[type=submit]')
  const pulled = `[data-testid=transfer][data-kind=pull][data-image="${ref}"]`
  await page.waitForSelector(`${pulled}[data-state=done]`, { timeout: 60_000 })
  const pullStatuses = (await statuses(pulled)).sort()
  assert.deepEqual(pullStatuses, ['Already exists', 'Pull complete'])
  assert.match((await page.locator(`${pulled} tr[data-status="Pull complete"]`).textContent()) ?? '', /\d MB \/ \d/)
  assert.equal((await d.docker('image', 'inspect', '-f', '{{.Id}}', ref)).code, 0)
  // The list follows the engine's events: the pulled image shows up without a reload.
  await page.waitForSelector(`[data-testid=images] td:text("${ref}")`)
  await shot('pull')

  // What the engine says goes on the page.
  await page.getByLabel('Image to pull').fill(`${registry.address}/dash/missing:1`)
  await page.click('form.toolbar button[type=submit]')
  await page.waitForSelector('[data-testid=transfer][data-kind=pull][data-state=failed] [data-testid=transfer-error]', { timeout: 30_000 })
  assert.match((await page.textContent('[data-testid=transfer][data-state=failed] [data-testid=transfer-error]')) ?? '', /manifest unknown|not found/)

  // A dangling image (its tag moved to another) goes with Prune dangling; tagged ones stay.
  assert.equal((await d.cli('tag', BUSYBOX, ref)).code, 0)
  const dangling = (await d.client.images.list({ filters: { dangling: ['true'] } })).map((i) => i.Id)
  assert.equal(dangling.length, 1)
  page.once('dialog', (dialog) => void dialog.accept())
  await page.click('button[data-action=prune]')
  await page.waitForSelector('[data-testid=pruned]')
  // The image and its own layer (the random one): the base layer stays with busybox.
  assert.match((await page.textContent('[data-testid=pruned]')) ?? '', /^2 deleted, 2\.\d+ MB reclaimed$/)
  assert.deepEqual((await d.client.images.list({ filters: { dangling: ['true'] } })).length, 0)
  assert.equal((await d.docker('image', 'inspect', '-f', '{{.Id}}', BUSYBOX)).code, 0)
  assert.deepEqual(problems.filter((p) => !/status of 404|Failed to load resource/.test(p)), [])
})

test('in Chromium: a network created, a container connected and disconnected, the network removed; the engine\'s refusal for a predefined one shown', { skip: chromiumPath ? false : 'chromium is not installed' }, async (t) => {
  const d = await startDaemon(t)
  const { Id } = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '300'] }, { name: 'joiner' })
  await d.client.containers.start(Id)
  const created = await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'] }, { name: 'lonely' })
  const dash = await startDashboardCli(t, d)
  const { page, problems, shot } = await openBrowser(t, dash.url)
  await page.goto(`${dash.origin}/#/networks`)
  const subnet = `10.246.${process.pid % 200}.0/24`
  await page.getByLabel('Network name').fill('dashnet')
  await page.getByLabel('Subnet').fill(subnet)
  await page.click('[data-testid=network-create] button[type=submit]')
  await page.waitForSelector('[data-testid=networks] tr[data-name=dashnet]')
  assert.equal((await d.docker('network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', 'dashnet')).stdout.trim(), subnet)

  // The stopped container too: a created one can join a network before it starts.
  for (const name of ['lonely', 'joiner']) {
    await page.getByLabel('Container to connect to dashnet').selectOption({ label: name })
    await page.click('[data-testid=networks] tr[data-name=dashnet] button[data-action=connect]')
    await page.waitForSelector(`[data-testid=networks] tr[data-name=dashnet] [data-member=${name}]`)
  }
  await shot('networks-connected')
  const joined = (await d.docker('inspect', '-f', '{{(index .NetworkSettings.Networks "dashnet").IPAddress}}', 'joiner')).stdout.trim()
  assert.ok(joined.startsWith(subnet.split('.').slice(0, 3).join('.')), joined)
  assert.match(await page.textContent('[data-testid=networks] tr[data-name=dashnet] [data-member=joiner]') ?? '', new RegExp(joined.replaceAll('.', '\\.')))

  await page.getByLabel('Disconnect joiner from dashnet').click()
  await page.waitForSelector('[data-testid=networks] tr[data-name=dashnet] [data-member=joiner]', { state: 'detached' })
  assert.equal((await d.docker('inspect', '-f', '{{json .NetworkSettings.Networks.dashnet}}', 'joiner')).stdout.trim(), 'null')
  await d.client.containers.remove(created.Id)

  await page.click('[data-testid=networks] tr[data-name=bridge] button[data-action=remove]')
  await page.waitForSelector('.error:has-text("bridge is a pre-defined network and cannot be removed")')
  await page.click('[data-testid=networks] tr[data-name=dashnet] button[data-action=remove]')
  await page.waitForSelector('[data-testid=networks] tr[data-name=dashnet]', { state: 'detached' })
  assert.equal((await d.docker('network', 'inspect', 'dashnet')).code, 1)
  assert.deepEqual(problems.filter((p) => !/status of 403|Failed to load resource/.test(p)), [])
})

test('in Chromium: two images compared, the layer they share and each file added, removed or modified', { skip: chromiumPath ? false : 'chromium is not installed' }, async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const base = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/x', content: 'x'.repeat(10) }, { name: 'etc/gone', content: 'g'.repeat(4) }])
  const a = await makeTar([{ name: 'app/', type: 'directory' }, { name: 'app/main', content: 'm'.repeat(100) }])
  const b = await makeTar([{ name: 'app/', type: 'directory' }, { name: 'app/main', content: 'M'.repeat(120) }, { name: 'app/extra', content: 'e'.repeat(7) }, { name: 'etc/.wh.gone' }])
  await d.client.images.load(Readable.from((await makeDockerArchive([base, a], { tag: 'cmp:a' })).archive))
  await d.client.images.load(Readable.from((await makeDockerArchive([base, b], { tag: 'cmp:b' })).archive))
  const dash = await startDashboardCli(t, d)
  const { page, problems, shot } = await openBrowser(t, dash.url)
  const session = (await page.context().cookies()).find((c) => c.name === 'cais_dashboard')!
  const cookie = `${session.name}=${session.value}`
  const r = await http(dash.port, 'GET', '/api/images/compare?a=cmp%3Aa&b=cmp%3Ab', { Cookie: cookie })
  assert.equal(r.status, 200, r.body)
  const c = JSON.parse(r.body) as { sharedLayers: string[]; sharedBytes: number; added: { files: unknown[] }; removed: { files: unknown[] }; modified: { files: unknown[] } }
  assert.equal(c.sharedLayers.length, 1)
  assert.equal(c.sharedBytes, 10, 'etc/x, from the shared layer in both')
  assert.deepEqual(c.added.files, [{ path: 'app/extra', kind: 'file', size: 7 }])
  assert.deepEqual(c.removed.files, [{ path: 'etc/gone', kind: 'file', size: 4 }])
  assert.deepEqual(c.modified.files, [{ path: 'app/main', kind: 'file', size: 120, sizeBefore: 100 }])
  assert.equal((await http(dash.port, 'GET', '/api/images/compare?a=cmp%3Aa', { Cookie: cookie })).status, 400)

  await page.goto(`${dash.origin}/#/images`)
  await page.click('text=Compare two images')
  await page.getByLabel('First image').selectOption({ label: 'cmp:a' })
  await page.getByLabel('Second image').selectOption({ label: 'cmp:b' })
  await page.waitForSelector('[data-testid=compare-shared][data-layers="1"]')
  assert.deepEqual(
    await Promise.all((await page.locator('.file').all()).map(async (f) => `${await f.locator('.mark').textContent()} ${await f.getAttribute('data-path')}`)),
    ['A app/extra', 'D etc/gone', 'M app/main'],
  )
  await shot('compare')
  assert.deepEqual(problems, [])
})

test("in Chromium: a volume's files browsed read-only and downloaded, through a reader container that is gone afterwards", { skip: chromiumPath ? false : 'chromium is not installed' }, async (t) => {
  const d = await startDaemon(t)
  const fill = await d.docker('run', '--rm', '-v', 'dashvol:/data', BUSYBOX, 'sh', '-c', 'mkdir -p /data/logs && echo first > /data/logs/a.log && printf hello > /data/top.txt')
  assert.equal(fill.code, 0, fill.stderr)
  const dash = await startDashboardCli(t, d)
  const { page, problems, shot } = await openBrowser(t, dash.url)
  await page.goto(`${dash.origin}/#/volumes`)
  await page.click('[data-testid=volumes] tr[data-name=dashvol] button:has-text("Browse")')
  await page.waitForSelector('[data-testid=volume-files] [data-testid=files-list] tr[data-name="top.txt"]')
  assert.equal(await page.getAttribute('[data-testid=volume-files] tr[data-name=logs]', 'data-kind'), 'dir')
  assert.equal(await page.locator('[data-testid=volume-files] input[type=file]').count(), 0, 'read-only: no upload')
  await page.click('[data-testid=volume-files] tr[data-name=logs] a')
  await page.waitForSelector('[data-testid=volume-files] tr[data-name="a.log"]')
  assert.equal(await page.textContent('[data-testid=volume-files] [data-testid=files-path]'), '/logs')
  await shot('volume-files')

  const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ')
  const file = await http(dash.port, 'GET', '/api/volumes/dashvol/files/download?path=%2Flogs%2Fa.log', { Cookie: cookie, Host: `127.0.0.1:${dash.port}` })
  assert.equal(file.status, 200)
  assert.equal(file.body, 'first\n')
  const missing = await http(dash.port, 'GET', '/api/volumes/nosuchvol/files?path=%2F', { Cookie: cookie, Host: `127.0.0.1:${dash.port}` })
  assert.equal(missing.status, 404)
  // A download's reader goes once the file is sent, which the client may see whole a moment before.
  const readersLeft = async (): Promise<string[]> => (await d.client.containers.list({ all: true })).map((c) => c.Names[0]!)
  for (let i = 0; i < 50 && (await readersLeft()).length > 0; i++) await new Promise((r) => setTimeout(r, 100))
  assert.deepEqual(await readersLeft(), [], 'no reader container left')
  assert.equal((await d.docker('run', '--rm', '-v', 'dashvol:/data', BUSYBOX, 'cat', '/data/top.txt')).stdout, 'hello', 'the volume is as it was')
  assert.deepEqual(problems, [])
})

test('in Chromium: a stack through the compose library — merged logs, its file edited with compose\'s own diagnostics and saved in place, pull, up recreating only what changed, restart, down', { skip: chromiumPath ? false : 'chromium is not installed' }, async (t) => {
  const d = await startDaemon(t)
  const reg = await startRegistry(t)
  assert.equal((await d.docker('tag', BUSYBOX, `${reg.address}/bb:1`)).code, 0)
  assert.equal((await d.docker('push', `${reg.address}/bb:1`)).code, 0)
  const dir = join(d.dir, 'shop')
  mkdirSync(dir)
  const file = join(dir, 'compose.yaml')
  // Both from a registry here, so that pull has somewhere to pull from.
  const service = (name: string, say: string): string =>
    `  ${name}:\n    image: ${reg.address}/bb:1\n    command: ["sh", "-c", "echo ${say}; exec sleep 300"]\n    network_mode: none\n    stop_signal: SIGKILL\n`
  const original = `services:\n${service('web', 'web-v1')}${service('worker', 'worker-up')}`
  writeFileSync(file, original)
  assert.equal((await d.cli('compose', '-f', file, '-p', 'shop', 'up', '-d')).code, 0)
  const idOf = async (name: string): Promise<string> => (await d.docker('inspect', '-f', '{{.Id}}', name)).stdout.trim()
  const worker = await idOf('shop-worker-1')

  const dash = await startDashboardCli(t, d)
  const { page, problems, shot } = await openBrowser(t, dash.url)
  await page.goto(`${dash.origin}/#/stacks`)
  await page.click('[data-project=shop] button[data-action=logs]')
  await page.waitForSelector('[data-testid=stack-logs] [data-container=web-1]:has-text("web-v1")')
  await page.waitForSelector('[data-testid=stack-logs] [data-container=worker-1]:has-text("worker-up")')

  await page.click('[data-project=shop] button[data-action=edit]')
  await page.waitForSelector('[data-testid=compose-editor] .cm-content')
  await page.click('[data-testid=compose-editor] .cm-content')
  await page.keyboard.press('Control+A')
  await page.keyboard.insertText(`services:\n  web:\n    image: ${BUSYBOX}\n    restart: 5\n`)
  await page.waitForSelector('[data-testid=editor-status]:text("1 problem")')
  await page.waitForSelector('[data-testid=compose-editor] .cm-lint-marker-error')
  await page.click('[data-testid=compose-editor] button[data-action=save]')
  await page.waitForSelector('[data-testid=compose-editor] .error:has-text("services.web.restart must be a string")')
  assert.equal(readFileSync(file, 'utf8'), original, 'nothing saved while compose finds a problem')
  await shot('stack-editor')

  const edited = original.replace('web-v1', 'web-v2')
  await page.click('[data-testid=compose-editor] .cm-content')
  await page.keyboard.press('Control+A')
  await page.keyboard.insertText(edited)
  await page.waitForSelector('[data-testid=editor-status]:text("No problems")')
  await page.click('[data-testid=compose-editor] button[data-action=save]')
  await page.waitForSelector('[data-testid=editor-status]:text("Saved")')
  assert.equal(readFileSync(file, 'utf8'), edited, 'saved in place')

  await page.click('[data-project=shop] button[data-action=pull]')
  await page.waitForSelector('[data-project=shop] [data-testid=stack-output]:has-text("worker Pulled")')
  await page.click('[data-project=shop] button[data-action=up]')
  await page.waitForSelector('[data-project=shop] [data-testid=stack-output]:has-text("Container shop-web-1  Started")')
  assert.match((await d.docker('inspect', '-f', '{{json .Config.Cmd}}', 'shop-web-1')).stdout, /web-v2/)
  assert.equal(await idOf('shop-worker-1'), worker, 'the unchanged service was left alone')
  await page.click('[data-project=shop] button[data-action=restart]')
  await page.waitForSelector('[data-project=shop] [data-testid=stack-output]:has-text("Container shop-worker-1  Restarting")')
  await page.click('[data-project=shop] button[data-action=down]')
  await page.waitForSelector('[data-project=shop]', { state: 'detached', timeout: 20_000 })
  assert.equal((await d.docker('ps', '-aq', '--filter', 'label=com.docker.compose.project=shop')).stdout.trim(), '')
  assert.deepEqual(problems.filter((p) => !/status of 400|Failed to load resource/.test(p)), [])
})

test("in Chromium: the CLI's contexts as engines to switch between; each view then shows the one chosen, and an engine that does not answer is refused in words", { skip: chromiumPath ? false : 'chromium is not installed' }, async (t) => {
  const one = await startDaemon(t)
  const two = await startDaemon(t)
  for (const [d, name] of [[one, 'on-one'], [two, 'on-two']] as const) await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'] }, { name })
  const config = join(one.dir, 'cli-config')
  const context = (...args: string[]): ReturnType<typeof runCommand> => runCommand(caisBin, ['context', ...args], { env: { ...process.env, CAIS_CONFIG: config } })
  assert.equal((await context('create', 'second', '--description', 'the other daemon', '--docker', `host=${two.host}`)).code, 0)
  assert.equal((await context('create', 'gone', '--docker', `host=unix://${join(one.dir, 'nothing.sock')}`)).code, 0)
  const dash = await startDashboardCli(t, one, [], { CAIS_CONFIG: config })
  const { page, problems } = await openBrowser(t, dash.url)
  await page.waitForSelector('[data-testid=containers] tr[data-name=on-one]')
  assert.match((await page.textContent('[data-testid=engine-name]')) ?? '', new RegExp(one.host.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')))

  await page.getByLabel('Engine').selectOption('second')
  await page.waitForSelector('[data-testid=containers] tr[data-name=on-two]')
  assert.equal(await page.locator('[data-testid=containers] tr[data-name=on-one]').count(), 0)
  assert.match((await page.textContent('[data-testid=engine-name]')) ?? '', /^second \(/)
  await page.goto(`${dash.origin}/#/stacks`)
  assert.match((await page.textContent('[data-testid=engine-name]')) ?? '', /^second \(/, 'every view shows it')

  await page.getByLabel('Engine').selectOption('gone')
  await page.waitForSelector('[data-testid=engine] .error:has-text("engine gone does not answer")')
  await page.getByLabel('Engine').selectOption('default')
  // The switch reloads the page: wait for that before going elsewhere, or the reload lands after the navigation.
  await page.waitForFunction(() => !/^second/.test(document.querySelector('[data-testid=engine-name]')?.textContent ?? 'second'))
  await page.goto(`${dash.origin}/#/containers`)
  await page.waitForSelector('[data-testid=containers] tr[data-name=on-one]')
  assert.match(dash.stderr(), /"path":"\/api\/engines\/use","status":200/, 'a switch is audited')
  assert.deepEqual(problems.filter((p) => !/status of 502|Failed to load resource/.test(p)), [])
})
