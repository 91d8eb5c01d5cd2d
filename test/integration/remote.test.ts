// A daemon driven from elsewhere, and only by whom it should be: TCP with mutual TLS (certificates from
// `cais tls init`) for the docker CLI and ours, refusals at the handshake, contexts shared with the docker CLI's
// store and export format, ssh:// through `system dial-stdio` for both CLIs, and the limits on hostile requests.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { type Socket, connect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { makeTar } from '../helpers/archive.ts'
import { caisBin, caisdBin, claimNetworkSlot, dockerBin, runCommand, socketActivationLauncher, startDaemon, waitFor } from '../helpers/daemon.ts'
import { removeChains, unmountUnder } from '../helpers/host-cleanup.ts'
import { freePort } from '../helpers/registry.ts'

test('TCP with mutual TLS: the docker CLI and cais connect with certificates from cais tls init; others are refused at the handshake', async (t) => {
  const port = await freePort()
  const d0 = mkdtempSync('/tmp/cais-test-tls-')
  t.after(() => rmSync(d0, { recursive: true, force: true }))
  const certs = join(d0, 'certs')
  const made = await runCommand(caisBin, ['tls', 'init', '--dir', certs])
  assert.equal(made.code, 0, made.stderr)
  for (const key of ['ca-key.pem', 'server-key.pem', 'key.pem']) assert.equal(statSync(join(certs, key)).mode & 0o777, 0o600, key)
  const again = await runCommand(caisBin, ['tls', 'init', '--dir', certs])
  assert.equal(again.code, 1)
  assert.match(again.stderr, /already exists: use --force/)
  const other = join(d0, 'other')
  assert.equal((await runCommand(caisBin, ['tls', 'init', '--dir', other])).code, 0)

  const d = await startDaemon(t, {
    importBusybox: false,
    args: ['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'server-cert.pem'), '--tlskey', join(certs, 'server-key.pem')],
  })
  const tcp = `tcp://127.0.0.1:${port}`
  const docker = (env: NodeJS.ProcessEnv, ...args: string[]): ReturnType<typeof runCommand> => runCommand(dockerBin, args, { env: { DOCKER_HOST: '', CAIS_HOST: '', DOCKER_CONFIG: join(d0, 'dc'), ...env } })
  const cais = (env: NodeJS.ProcessEnv, ...args: string[]): ReturnType<typeof runCommand> => runCommand(caisBin, args, { env: { DOCKER_HOST: '', CAIS_HOST: '', CAIS_CONFIG: join(d0, 'cc'), ...env } })

  const flags = ['-H', tcp, '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'cert.pem'), '--tlskey', join(certs, 'key.pem')]
  const version = await docker({}, ...flags, 'version', '--format', '{{.Server.Version}}')
  assert.equal(version.code, 0, version.stderr)
  assert.match(version.stdout, /cais/)
  const viaEnv = { DOCKER_HOST: tcp, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs }
  assert.equal((await docker(viaEnv, 'volume', 'create', 'over-tls')).code, 0)
  const ours = await cais(viaEnv, 'volume', 'ls', '-q')
  assert.equal(ours.code, 0, ours.stderr)
  assert.equal(ours.stdout, 'over-tls\n')
  assert.equal((await cais({}, ...flags, 'volume', 'rm', 'over-tls')).stdout, 'over-tls\n')

  const noCert = await docker({}, '-H', tcp, '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), 'version')
  assert.notEqual(noCert.code, 0)
  assert.match(noCert.stderr, /certificate required|bad certificate|handshake/)
  const foreign = await docker({}, '-H', tcp, '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(other, 'cert.pem'), '--tlskey', join(other, 'key.pem'), 'version')
  assert.notEqual(foreign.code, 0)
  assert.match(foreign.stderr, /unknown certificate authority|bad certificate|unknown ca|connection reset by peer|EOF/)
  const plain = await docker({}, '-H', tcp, 'version')
  assert.notEqual(plain.code, 0, 'plain HTTP to the TLS port gets nothing')
  const serverNotTrusted = await cais({}, '-H', tcp, '--tlsverify', '--tlscacert', join(other, 'ca.pem'), '--tlscert', join(certs, 'cert.pem'), '--tlskey', join(certs, 'key.pem'), 'version')
  assert.notEqual(serverNotTrusted.code, 0, 'a daemon whose certificate another CA signed is not trusted')

  // The audit log names who changed what: the client certificate's subject.
  assert.match(d.logs(), /"msg":"audit","req":\d+,"method":"POST","path":"\/v1\.\d+\/volumes\/create","status":201,"peer":"tls:CN=client"/)
  assert.match(d.logs(), /"msg":"audit","req":\d+,"method":"DELETE","path":"\/v1\.\d+\/volumes\/over-tls","status":204,"peer":"tls:CN=client"/)
})

test('caisd refuses TCP without TLS off loopback unless the flag that says what it does is given, and bad -H values', async () => {
  for (const [args, message] of [
    [['-H', 'tcp://0.0.0.0:23999'], /refusing to listen on tcp:\/\/0\.0\.0\.0:23999 without --tlsverify: anyone who can reach it gets root/],
    [['-H', 'tcp://127.0.0.1:99999'], /port out of range/],
    [['-H', 'http://x'], /invalid host "http:\/\/x": expected unix:\/\/PATH, tcp:\/\/HOST:PORT or fd:\/\//],
    [['-H', 'fd://'], /no sockets found via socket activation/],
  ] as const) {
    const dir = mkdtempSync('/tmp/cais-test-hosts-')
    // Its own bridge, subnet and chains, in case a start got as far as the network: refused before it, it makes none.
    const net = claimNetworkSlot()
    try {
      const r = await runCommand(caisdBin, ['--root', join(dir, 'root'), '--exec-root', join(dir, 'run'), ...net.args, ...args], { timeoutMs: 20_000 })
      assert.notEqual(r.code, 0)
      assert.match(r.stderr, message)
      assert.equal(existsSync(join(dir, 'root')), false, 'refused before anything was made')
    } finally {
      unmountUnder(dir)
      rmSync(dir, { recursive: true, force: true })
      removeChains(net.chainPrefix)
      net.release()
    }
  }
})

test('--audit-peers: the audit names who called over the unix socket, the user and process at the other end', async (t) => {
  const d = await startDaemon(t, { importBusybox: false, args: ['--audit-peers'] })
  const created = await d.docker('volume', 'create', 'audited-root')
  assert.equal(created.code, 0, created.stderr)
  const socket = d.socket.replaceAll('/', '\\/').replaceAll('.', '\\.')
  await waitFor('the audit line of the root client', () => (new RegExp(`"path":"\\/v1\\.\\d+\\/volumes\\/create","status":201,"peer":"unix:${socket} uid=0 pid=\\d+ command=docker"`).test(d.logs()) ? true : undefined))
  // Another user (the socket, and the way to it, opened to all for this test alone) is named by its uid.
  chmodSync(d.dir, 0o711)
  chmodSync(d.socket, 0o666)
  const config = mkdtempSync('/tmp/cais-test-audit-')
  t.after(() => rmSync(config, { recursive: true, force: true }))
  chownSync(config, 4242, 4242)
  const other = await runCommand('setpriv', ['--reuid', '4242', '--regid', '4242', '--clear-groups', dockerBin, '-H', `unix://${d.socket}`, 'volume', 'create', 'audited-other'], { env: { DOCKER_CONFIG: config } })
  assert.equal(other.code, 0, other.stderr)
  await waitFor('the audit line of the other user', () => (new RegExp(`"peer":"unix:${socket} uid=4242 pid=\\d+ command=docker"`).test(d.logs()) ? true : undefined))
})

test('socket activation (fd://) and --group: caisd serves a socket it was handed, and its own socket belongs to the group', async (t) => {
  // What systemd does: a listening socket as fd 3, LISTEN_FDS=1 and LISTEN_PID of the process it execs.
  const dir = mkdtempSync('/tmp/cais-test-fd-')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const activated = join(dir, 'activated.sock')
  const d = await startDaemon(t, { importBusybox: false, args: ['-H', 'fd://', '--group', '4242'], wrap: socketActivationLauncher(dir, activated) })
  assert.equal(statSync(d.socket).gid, 4242)
  assert.equal(statSync(d.socket).mode & 0o777, 0o660)
  const viaFd = await runCommand(caisBin, ['-H', `unix://${activated}`, 'version', '--format', '{{.Server.Version}}'])
  assert.equal(viaFd.code, 0, viaFd.stderr)
  assert.match(d.logs(), /"msg":"API listen on","fd":3/)
})

test('contexts: stored as the docker CLI stores them, used by --context, context use and DOCKER_CONTEXT; exported and imported both ways', async (t) => {
  const d = await startDaemon(t, { importBusybox: false })
  const config = join(d.dir, 'shared-config')
  const env = { CAIS_CONFIG: config, DOCKER_CONFIG: config, CAIS_HOST: '', DOCKER_HOST: '' }
  const cais = (...args: string[]): ReturnType<typeof runCommand> => runCommand(caisBin, args, { env })
  const docker = (...args: string[]): ReturnType<typeof runCommand> => runCommand(dockerBin, args, { env })

  const created = await cais('context', 'create', 'here', '--description', 'the test daemon', '--docker', `host=${d.host}`)
  assert.equal(created.code, 0, created.stderr)
  assert.equal((await cais('context', 'create', 'here', '--docker', `host=${d.host}`)).stderr.trim(), 'context "here" already exists')
  assert.equal((await cais('volume', 'create', 'ctx-vol')).code, 1, 'the default context is not the test daemon')
  assert.equal((await cais('--context', 'here', 'volume', 'create', 'ctx-vol')).code, 0)
  assert.equal((await docker('--context', 'here', 'volume', 'ls', '-q')).stdout, 'ctx-vol\n', 'the docker CLI reads the context cais stored')
  assert.match((await docker('context', 'ls')).stdout, /here +the test daemon +unix:\/\//)
  assert.equal((await runCommand(caisBin, ['volume', 'ls', '-q'], { env: { ...env, DOCKER_CONTEXT: 'here' } })).stdout, 'ctx-vol\n')
  assert.equal((await cais('context', 'use', 'here')).code, 0)
  assert.equal((await cais('volume', 'ls', '-q')).stdout, 'ctx-vol\n')
  assert.match((await cais('context', 'ls')).stdout, /here \* +the test daemon/)

  const exported = join(d.dir, 'here.dockercontext')
  assert.equal((await cais('context', 'export', 'here', exported)).code, 0)
  const dockerImport = await docker('context', 'import', 'from-cais', exported)
  assert.equal(dockerImport.code, 0, dockerImport.stderr)
  assert.equal((await docker('--context', 'from-cais', 'volume', 'ls', '-q')).stdout, 'ctx-vol\n')
  const theirExport = join(d.dir, 'theirs.dockercontext')
  assert.equal((await docker('context', 'export', 'from-cais', theirExport)).code, 0)
  const ourImport = await cais('context', 'import', 'back', theirExport)
  assert.equal(ourImport.code, 0, ourImport.stderr)
  assert.equal((await cais('--context', 'back', 'volume', 'ls', '-q')).stdout, 'ctx-vol\n')

  const inUse = await cais('context', 'rm', 'here')
  assert.equal(inUse.code, 1)
  assert.match(inUse.stderr, /context is in use, set -f flag to force remove/)
  assert.equal((await cais('context', 'rm', '-f', 'here', 'back', 'from-cais')).code, 0)
  assert.equal((await cais('context', 'show')).stdout, 'default\n')
  assert.equal((await cais('--context', 'gone', 'ps')).stderr.trim(), 'context "gone" does not exist')
  assert.equal((await cais('-H', d.host, '--context', 'x', 'ps')).stderr.trim(), 'conflicting options: either specify --host or --context, not both')
})

const sshd = '/usr/sbin/sshd'

test('ssh://: cais and the docker CLI reach caisd through an ssh session running system dial-stdio', { skip: existsSync(sshd) ? false : 'openssh-server is not installed' }, async (t) => {
  const d = await startDaemon(t)
  const dir = join(d.dir, 'ssh')
  const bin = join(dir, 'bin')
  mkdirSync(bin, { recursive: true })
  for (const key of ['hostkey', 'userkey']) assert.equal((await runCommand('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, key)])).code, 0)
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'userkey.pub')))
  // On the "remote" side `cais` and `docker` are both our CLI, so `docker system dial-stdio` is ours too.
  symlinkSync(caisBin, join(bin, 'cais'))
  symlinkSync(caisBin, join(bin, 'docker'))
  const port = await freePort()
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      'ListenAddress 127.0.0.1', `Port ${port}`, `HostKey ${join(dir, 'hostkey')}`, `PidFile ${join(dir, 'sshd.pid')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
      `SetEnv PATH=${bin}:/usr/local/bin:/usr/bin:/bin CAIS_HOST=${d.host} DOCKER_HOST=${d.host}`, '',
    ].join('\n'),
  )
  const madeRunDir = !existsSync('/run/sshd')
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  const server = spawn(sshd, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let sshdLog = ''
  server.stderr.on('data', (c: Buffer) => (sshdLog += c.toString()))
  t.after(() => {
    server.kill()
    if (madeRunDir) rmSync('/run/sshd', { recursive: true, force: true })
  })
  const listening = (): Promise<true | undefined> =>
    new Promise((r) => {
      const s: Socket = connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        r(true)
      })
      s.once('error', () => r(undefined))
    })
  await waitFor('sshd to listen', listening)
  // The client side's ssh, with the test's key, as a user's ~/.ssh/config would give it.
  const clientBin = join(dir, 'client-bin')
  mkdirSync(clientBin)
  writeFileSync(join(clientBin, 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -i ${join(dir, 'userkey')} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$@"\n`)
  chmodSync(join(clientBin, 'ssh'), 0o755)
  const env = { PATH: `${clientBin}:${process.env['PATH'] ?? ''}`, CAIS_HOST: '', DOCKER_HOST: '' }
  const host = `ssh://root@127.0.0.1:${port}`

  const run = await runCommand(caisBin, ['-H', host, 'run', '--rm', 'busybox', 'sh', '-c', 'echo over ssh'], { env })
  assert.equal(run.code, 0, `${run.stderr}\n${sshdLog}`)
  assert.equal(run.stdout, 'over ssh\n')
  const piped = await runCommand(caisBin, ['-H', host, 'run', '--rm', '-i', 'busybox', 'tr', 'a-z', 'A-Z'], { env, input: 'attached stdin\n' })
  assert.equal(piped.stdout, 'ATTACHED STDIN\n', piped.stderr)
  const theirs = await runCommand(dockerBin, ['-H', host, 'info', '--format', '{{.ServerVersion}}'], { env })
  assert.equal(theirs.code, 0, theirs.stderr)
  assert.match(theirs.stdout, /cais/)
  const refused = await runCommand(caisBin, ['-H', `ssh://root@127.0.0.1:${await freePort()}`, 'ps'], { env })
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /Connection refused/)
})

test('hostile requests: oversized heads and URLs, deep JSON, a slow client and an archive linking out get Docker-like refusals; the daemon stays up', async (t) => {
  const d = await startDaemon(t)
  const send = (text: string | Buffer): Promise<string> =>
    new Promise((resolve) => {
      const s = connect(d.socket)
      let out = ''
      s.on('data', (c: Buffer) => (out += c.toString()))
      s.on('close', () => resolve(out))
      s.on('error', () => resolve(out))
      s.end(text)
    })
  assert.match(await send(`GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`), /^HTTP\/1\.1 431 /)
  assert.match(await send(`GET /containers/json?${'a=1&'.repeat(10_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 414 [\s\S]*request URI too long/)
  const deep = '['.repeat(10_000) + ']'.repeat(10_000)
  assert.match(
    await send(`POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${deep.length}\r\nConnection: close\r\n\r\n${deep}`),
    /^HTTP\/1\.1 400 [\s\S]*invalid JSON: nested deeper than 64 levels/,
  )
  assert.match(await send('GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400 /)
  // A half-closed request (`printf … | nc -U`) still gets its answer.
  assert.match(await send('GET /system/df HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 200 /)

  // A hard link through a symlink the archive planted would put a host file in the container: refused.
  assert.equal((await d.cli('create', '--name', 'target', 'busybox', 'true')).code, 0)
  const linksBefore = statSync('/etc/hostname').nlink
  const archive = await makeTar([
    { name: 'evil', type: 'symlink', linkname: '/' },
    { name: 'stolen', type: 'link', linkname: 'evil/etc/hostname' },
  ])
  const put = await send(Buffer.concat([Buffer.from(`PUT /containers/target/archive?path=/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: ${archive.length}\r\nConnection: close\r\n\r\n`), archive]))
  assert.match(put, /^HTTP\/1\.1 400 [\s\S]*invalid tar: hard link stolen to evil\/etc\/hostname: evil is not a directory/)
  assert.equal(statSync('/etc/hostname').nlink, linksBefore)
  // A client that sends half a head and stops is cut off once the head's time is up.
  const started = Date.now()
  const slow = await new Promise<number>((resolve) => {
    const s = connect(d.socket)
    s.write('GET /_ping HTTP/1.1\r\nHost: x\r\n')
    s.on('data', () => {})
    s.on('close', () => resolve(Date.now() - started))
  })
  assert.ok(slow >= 14_000 && slow < 20_000, `the slow client was dropped after ${slow} ms`)
  assert.equal((await d.cli('version', '--format', '{{.Server.Version}}')).code, 0)
})
