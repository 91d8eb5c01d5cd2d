// exec, pause/unpause and rename against a real caisd, through the typed client and the docker CLI.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { BUSYBOX, dockerBin, startDaemon, uniqueName, waitFor } from '../helpers/daemon.ts'

const noDocker = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

async function running(d: Awaited<ReturnType<typeof startDaemon>>, name: string): Promise<void> {
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sleep', '300'] }, { name })
  await d.client.containers.start(name)
}

test('exec runs in the container with its env, user and workdir; exit code in inspect', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await running(d, name)
  const { Id } = await d.client.execs.create(name, { Cmd: ['sh', '-c', 'echo $A $(pwd) $(id -u) $(hostname); echo err >&2; exit 3'], Env: ['A=1'], User: 'nobody', WorkingDir: '/tmp', AttachStdout: true, AttachStderr: true })
  const { output } = await d.client.execs.start(Id)
  let out = ''
  let err = ''
  for await (const c of output) {
    if (c.stream === 'stderr') err += c.data.toString()
    else out += c.data.toString()
  }
  assert.equal(out, `1 /tmp 65534 ${(await d.client.containers.inspect(name)).Config.Hostname}\n`)
  assert.equal(err, 'err\n')
  const info = await d.client.execs.inspect(Id)
  assert.equal(info.ExitCode, 3)
  assert.equal(info.Running, false)
  assert.ok(((await d.client.containers.inspect(name)).ExecIDs ?? []).includes(Id))
  await assert.rejects(d.client.execs.create(name, { Cmd: [] }), /No exec command specified/)
  await assert.rejects(d.client.execs.inspect('nope'), /No such exec instance: nope/)
})

test('a TTY exec gets the size given at its start, and a resize that comes before its terminal exists', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await running(d, name)
  const outputOf = async (output: AsyncGenerator<{ data: Buffer }>): Promise<string> => {
    let text = ''
    for await (const c of output) text += c.data.toString()
    return text
  }
  // The sleeps: crun 1.8 may start an exec's process before it sizes the terminal (see ExecService.resize).
  // No size at create: the start's is the one the process gets (API 1.42 and later).
  const sized = await d.client.execs.create(name, { Cmd: ['sh', '-c', 'sleep 0.2; stty size'], Tty: true, AttachStdout: true })
  assert.equal(await outputOf((await d.client.execs.start(sized.Id, { tty: true, consoleSize: [19, 65] })).output), '19 65\r\n')
  // The docker CLI resizes right after the start, while the daemon is still starting the exec's monitor: the size
  // is kept, then applied.
  const resized = await d.client.execs.create(name, { Cmd: ['sh', '-c', 'sleep 0.3; stty size'], Tty: true, AttachStdout: true, ConsoleSize: [10, 10] })
  const started = await d.client.execs.start(resized.Id, { tty: true })
  await d.client.execs.resize(resized.Id, 21, 77)
  assert.equal(await outputOf(started.output), '21 77\r\n')
  // After its end a resize changes nothing and is no error, as an exec's end can race the client's last resize.
  await d.client.execs.resize(resized.Id, 30, 30)
})

test('exec into a stopped or paused container is a 409', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await running(d, name)
  await d.client.containers.pause(name)
  assert.equal((await d.client.containers.inspect(name)).State.Status, 'paused')
  await assert.rejects(d.client.execs.create(name, { Cmd: ['true'] }), /is paused, unpause the container before exec/)
  await assert.rejects(d.client.containers.pause(name), /already paused/)
  await d.client.containers.unpause(name)
  await assert.rejects(d.client.containers.unpause(name), /is not paused/)
  await d.client.containers.stop(name, { t: 0 })
  await assert.rejects(d.client.execs.create(name, { Cmd: ['true'] }), /is not running/)
  await assert.rejects(d.client.containers.pause(name), /is not running/)
})

test('a paused container can be stopped and removed', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await running(d, name)
  await d.client.containers.pause(name)
  await d.client.containers.remove(name, { force: true })
  await assert.rejects(d.client.containers.inspect(name), /No such container/)
})

test('rename keeps the container and frees the old name', async (t) => {
  const d = await startDaemon(t)
  const a = uniqueName(t)
  const b = `${a}-new`
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'] }, { name: a })
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'] }, { name: `${a}-other` })
  await d.client.containers.rename(a, b)
  assert.equal((await d.client.containers.inspect(b)).Name, `/${b}`)
  await assert.rejects(d.client.containers.inspect(a), /No such container/)
  await assert.rejects(d.client.containers.rename(b, `${a}-other`), /is already in use/)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'] }, { name: a })
})

test('the docker CLI: exec, exec -i, exec -d, exit codes, pause, unpause, rename', { skip: noDocker }, async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await running(d, name)
  assert.equal((await d.docker('exec', name, 'echo', 'hi')).stdout, 'hi\n')
  assert.equal((await d.docker('exec', name, 'sh', '-c', 'exit 4')).code, 4)
  const piped = await d.dockerWithInput('through stdin\n', 'exec', '-i', name, 'cat')
  assert.equal(piped.stdout, 'through stdin\n')
  const missing = await d.docker('exec', name, 'no-such-binary')
  assert.equal(missing.code, 126)
  assert.equal((await d.docker('exec', '-d', name, 'touch', '/tmp/detached')).code, 0)
  await waitFor('detached exec', async () => ((await d.docker('exec', name, 'ls', '/tmp')).stdout.includes('detached') ? true : undefined))
  assert.equal((await d.docker('pause', name)).code, 0)
  assert.match((await d.docker('ps', '--format', '{{.Status}}')).stdout, /\(Paused\)/)
  assert.equal((await d.docker('unpause', name)).code, 0)
  assert.equal((await d.docker('rename', name, `${name}-2`)).code, 0)
  assert.equal((await d.docker('ps', '--format', '{{.Names}}')).stdout.trim(), `${name}-2`)
})

test('--init runs catatonit as PID 1, so a plain sleep stops on SIGTERM', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  const r = await d.cli('run', '-d', '--init', '--name', name, BUSYBOX, 'sleep', '300')
  assert.equal(r.code, 0, r.stderr)
  const ps = await d.client.execs.create(name, { Cmd: ['cat', '/proc/1/cmdline'], AttachStdout: true })
  let out = ''
  for await (const c of (await d.client.execs.start(ps.Id)).output) out += c.data.toString()
  assert.match(out.replaceAll('\0', ' '), /^\/sbin\/docker-init -- sleep 300/)
  const started = Date.now()
  await d.client.containers.stop(name, { t: 10 })
  assert.ok(Date.now() - started < 5000, 'stopped by SIGTERM, not after the 10 s timeout')
  assert.equal((await d.client.containers.inspect(name)).State.ExitCode, 143)
})

test('the docker CLI: top, diff and container prune', { skip: noDocker }, async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh', '-c', 'echo x > /new; rm /bin/vi; mkdir -p /etc/extra; exec sleep 300'] }, { name })
  await d.client.containers.start(name)
  const top = await d.docker('top', name)
  assert.equal(top.code, 0, top.stderr)
  assert.match(top.stdout, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n/)
  assert.match(top.stdout, /sleep 300/)
  assert.equal(top.stdout.trim().split('\n').length, 2, 'only the container process, not the host')
  await waitFor('changes', async () => ((await d.docker('diff', name)).stdout.includes('/etc/extra') ? true : undefined))
  const diff = (await d.docker('diff', name)).stdout.split('\n')
  for (const line of ['A /new', 'C /bin', 'D /bin/vi', 'C /etc', 'A /etc/extra']) assert.ok(diff.includes(line), `${line} in ${diff.join('|')}`)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'], Labels: { keep: 'yes' } }, { name: `${name}-keep` })
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['true'] }, { name: `${name}-gone` })
  const prune = await d.docker('container', 'prune', '-f', '--filter', 'label!=keep')
  assert.equal(prune.code, 0, prune.stderr)
  const left = (await d.client.containers.list({ all: true })).map((c) => c.Names[0]!.slice(1)).sort()
  assert.deepEqual(left, [name, `${name}-keep`].sort(), 'the running one and the labelled one stay')
})

test('the detach keys end an exec stream and leave its process running: ctrl-p ctrl-q, or the exec own', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await running(d, name)
  for (const [keys, sequence] of [[undefined, '\x10\x11'], ['ctrl-x,y', '\x18y']] as const) {
    const { Id } = await d.client.execs.create(name, { Cmd: ['sh', '-c', 'while read line; do echo "got $line"; done'], AttachStdin: true, AttachStdout: true, ...(keys ? { DetachKeys: keys } : {}) })
    const { output, socket } = await d.client.execs.start(Id)
    socket.write('one\n')
    let out = ''
    const read = (async () => {
      for await (const c of output) out += c.data.toString()
    })()
    await waitFor('the first line back', () => (out.includes('got one') ? true : undefined))
    // The sequence split across two writes still detaches.
    socket.write(`${sequence[0]}`)
    socket.write(`${sequence.slice(1)}`)
    await read
    assert.equal(out, 'got one\n')
    // The client goes away: its closing must not end the detached process's stdin.
    socket.end()
    await new Promise((r) => setTimeout(r, 300))
    assert.equal((await d.client.execs.inspect(Id)).Running, true, 'the process goes on')
  }
  await assert.rejects(d.client.execs.create(name, { Cmd: ['true'], DetachKeys: 'ctrl-' }), /Invalid detach keys \(ctrl-\) provided/)
})

test('a TTY exec and a TTY attach send output without a newline at once: the shell prompt, each echoed keystroke', async (t) => {
  const d = await startDaemon(t)
  const name = uniqueName(t)
  await running(d, name)
  /** Reads a stream until it shows `wanted`, for up to 5 s; one read in flight at a time, so nothing is dropped. */
  const reader = (output: AsyncGenerator<{ data: Buffer }>): ((wanted: string) => Promise<string>) => {
    const chunks = output[Symbol.asyncIterator]()
    let seen = ''
    let pending: Promise<IteratorResult<{ data: Buffer }>> | undefined
    return async (wanted) => {
      const deadline = Date.now() + 5000
      while (!seen.includes(wanted)) {
        pending ??= chunks.next()
        const next = await Promise.race([pending, new Promise<'late'>((r) => setTimeout(() => r('late'), Math.max(0, deadline - Date.now())))])
        if (next === 'late' || next.done) assert.fail(`no ${JSON.stringify(wanted)} in ${JSON.stringify(seen)}`)
        pending = undefined
        seen += next.value.data.toString()
      }
      return seen
    }
  }
  const { Id } = await d.client.execs.create(name, { Cmd: ['sh'], Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true })
  const exec = await d.client.execs.start(Id, { tty: true })
  t.after(() => exec.socket.destroy())
  const execShows = reader(exec.output)
  await execShows('/ # ')
  exec.socket.write('ech')
  assert.match(await execShows('ech'), /\/ # .*ech$/)

  // The same through an attach to a TTY container (docker run -it): its prompt arrives before any newline.
  const tty = uniqueName(t)
  await d.client.containers.create({ Image: BUSYBOX, Cmd: ['sh'], Tty: true, OpenStdin: true, HostConfig: { NetworkMode: 'none' } }, { name: tty })
  const attached = await d.client.containers.attach(tty, { stream: true, stdin: true, stdout: true, stderr: true })
  t.after(() => attached.socket.destroy())
  await d.client.containers.start(tty)
  await reader(attached.output)('/ # ')
})
