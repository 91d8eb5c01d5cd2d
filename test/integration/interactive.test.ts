import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { BUSYBOX, type TestDaemon, caisBin, dockerBin, runCommand, startDaemon, waitFor } from '../helpers/daemon.ts'

const skipDocker = existsSync(dockerBin) ? false : `the docker CLI is not installed at ${dockerBin}`

async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args)
  assert.equal(r.code, 0, `cais ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

/**
 * Runs a shell command line under a pseudo-terminal (util-linux `script`). `typed` reaches the terminal after
 * `delay` seconds, when the program has had time to put it in raw mode (before that the tty driver would take
 * ctrl-q as XON).
 */
function underPty(d: TestDaemon, line: string, typed = '', delay = 1): ReturnType<typeof runCommand> {
  const octal = [...Buffer.from(typed)].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('')
  const feeder = `(sleep ${delay}; printf '${octal}'; sleep 2)`
  const quoted = line.replaceAll("'", `'\\''`)
  return runCommand('sh', ['-c', `${feeder} | script -qfec '${quoted}' /dev/null`], { env: { DOCKER_HOST: d.host, CAIS_HOST: d.host }, timeoutMs: 30_000 })
}

test('stdin: piped input reaches the container and its end closes stdin (cais and docker)', async (t) => {
  const d = await startDaemon(t)
  const cais = await d.cliWithInput('hi\nthere\n', 'run', '-i', '--rm', BUSYBOX, 'cat')
  assert.equal(cais.stdout, 'hi\nthere\n', cais.stderr)
  assert.equal(cais.code, 0)
  const counted = await d.cliWithInput('a\nb\nc\n', 'run', '-i', '--rm', BUSYBOX, 'sh', '-c', 'wc -l; exit 4')
  assert.equal(counted.stdout.trim(), '3')
  assert.equal(counted.code, 4)
  // Without -i the container's stdin is empty, whatever the client has.
  const closed = await d.cliWithInput('ignored\n', 'run', '--rm', BUSYBOX, 'cat')
  assert.equal(closed.stdout, '')

  // create -i, then start -ai.
  await ok(d, 'create', '-i', '--name', 'later', BUSYBOX, 'sh', '-c', 'read line; echo "got $line"')
  const started = await d.cliWithInput('value\n', 'start', '-ai', 'later')
  assert.equal(started.stdout, 'got value\n', started.stderr)
})

test('stdin and TTY through the docker CLI: run -i, run -t, run -it with the terminal size', { skip: skipDocker }, async (t) => {
  const d = await startDaemon(t)
  const piped = await d.dockerWithInput('hello from stdin\n', 'run', '-i', '--rm', BUSYBOX, 'cat')
  assert.equal(piped.stdout, 'hello from stdin\n', piped.stderr)
  const tty = await d.docker('run', '-t', '--rm', BUSYBOX, 'tty')
  assert.equal(tty.stdout, '/dev/pts/0\r\n', tty.stderr)
  const size = await underPty(d, `stty rows 41 cols 123; ${dockerBin} run -it --rm ${BUSYBOX} stty size`)
  assert.match(size.stdout, /41 123/, size.stderr)
  const typed = await underPty(d, `${dockerBin} run -it --rm ${BUSYBOX} sh -c 'read x; echo "typed:$x"'`, 'abc\r')
  // A resize after start reaches the container's terminal.
  assert.equal((await d.docker('run', '-dit', '--name', 'sized', BUSYBOX, 'sh')).code, 0)
  await d.client.containers.resize('sized', 33, 99)
  const after = await d.docker('exec', 'sized', 'sh', '-c', 'stty size < /proc/1/fd/0')
  assert.equal(after.stdout.trim(), '33 99', after.stderr)
  assert.match(typed.stdout, /typed:abc/, typed.stderr)
})

test('detach keys leave the container running; attach again reaches it', { skip: skipDocker }, async (t) => {
  const d = await startDaemon(t)
  assert.equal((await d.docker('run', '-dit', '--name', 'shell', BUSYBOX, 'sh')).code, 0)
  // docker attach under a terminal, then ctrl-p ctrl-q.
  const detached = await underPty(d, `${dockerBin} attach shell`, '\x10\x11')
  // The docker CLI catches the keys itself and reports them as its "read escape sequence" error.
  assert.match(detached.stdout + detached.stderr, /read escape sequence/)
  assert.equal((await d.client.containers.inspect('shell')).State.Running, true, 'still running after the detach keys')

  // The daemon detects the keys too: cais attach with piped input (no terminal), custom keys.
  const ours = await runCommand('sh', ['-c', `(printf 'echo marker-$((40+2))\\n'; sleep 1; printf ctrl) | ${caisBin} attach --detach-keys c,t,r,l shell`], {
    env: { CAIS_HOST: d.host },
  })
  assert.equal(ours.code, 0, ours.stderr)
  assert.match(ours.stdout, /marker-42/)
  assert.equal((await d.client.containers.inspect('shell')).State.Running, true)

  // Ending the input of a TTY container leaves its stdin open (as Docker): it keeps running.
  await d.cliWithInput('', 'attach', 'shell')
  await new Promise((r) => setTimeout(r, 300))
  assert.equal((await d.client.containers.inspect('shell')).State.Running, true)
  // Input kept open until the shell exits: the attach returns the container's exit code.
  const exit = await runCommand('sh', ['-c', `(printf 'exit 7\\n'; sleep 3) | ${caisBin} attach shell`], { env: { CAIS_HOST: d.host } })
  assert.equal(exit.code, 7)
  await waitFor('the exit', async () => (await d.client.containers.inspect('shell')).State.Running === false || undefined)

  const stopped = await d.cli('attach', 'shell')
  assert.equal(stopped.code, 1)
  assert.match(stopped.stderr, /You cannot attach to a stopped container, start it first/)
})

test('exec with a TTY: -t, -it with input and the terminal size, exit codes (cais and docker)', async (t) => {
  const d = await startDaemon(t)
  await ok(d, 'run', '-d', '--name', 'host', BUSYBOX, 'sleep', '300')
  const ours = await d.cli('exec', '-t', 'host', 'tty')
  assert.equal(ours.stdout, '/dev/pts/0\r\n', ours.stderr)
  const code = await d.cli('exec', '-t', 'host', 'sh', '-c', 'exit 5')
  assert.equal(code.code, 5)
  const fed = await d.cliWithInput('typed\n', 'exec', '-i', '-t', 'host', 'sh', '-c', 'read x; echo "got:$x"')
  assert.match(fed.stdout, /got:typed/, fed.stderr)
  const ourSize = await underPty(d, `stty rows 29 cols 97; ${caisBin} exec -it host sh -c 'sleep 0.1; stty size'`)
  assert.match(ourSize.stdout, /29 97/, ourSize.stderr)
  // The container's own stdio is untouched by the exec sessions.
  assert.equal((await d.client.containers.inspect('host')).State.Running, true)
  if (skipDocker) return
  const docker = await d.docker('exec', '-t', 'host', 'sh', '-c', 'tty; echo $TERM')
  assert.equal(docker.stdout, '/dev/pts/0\r\nxterm\r\n', docker.stderr)
  // The sleep: crun 1.8 may start an exec's process just before it sizes its terminal (see ExecService.resize).
  const sized = await underPty(d, `stty rows 37 cols 111; ${dockerBin} exec -it host sh -c 'sleep 0.1; stty size'`)
  assert.match(sized.stdout, /37 111/, sized.stderr)
  const typed = await underPty(d, `${dockerBin} exec -it host sh -c 'read x; echo "typed:$x"; exit 3'`, 'xyz\r')
  assert.match(typed.stdout, /typed:xyz/, typed.stderr)
  assert.equal(typed.code, 3)
})

test('run -a picks the streams; exec works in a container started before a daemon restart', async (t) => {
  const d = await startDaemon(t)
  const onlyErr = await d.cli('run', '--rm', '-a', 'stderr', BUSYBOX, 'sh', '-c', 'echo out; echo err >&2')
  assert.equal(onlyErr.stdout, '')
  assert.equal(onlyErr.stderr, 'err\n')
  const onlyOut = await d.docker('run', '--rm', '-a', 'stdout', BUSYBOX, 'sh', '-c', 'echo out; echo err >&2')
  assert.equal(onlyOut.stdout, 'out\n', onlyOut.stderr)
  const both = await d.cli('run', '-d', '-a', 'stdout', BUSYBOX, 'true')
  assert.notEqual(both.code, 0)
  assert.match(both.stderr, /Conflicting options: -a and -d/)

  await ok(d, 'run', '-d', '--name', 'survivor', BUSYBOX, 'sleep', '300')
  await d.kill9()
  await d.start()
  assert.equal(await ok(d, 'exec', 'survivor', 'echo', 'still here'), 'still here\n')
  const tty = await d.cli('exec', '-t', 'survivor', 'tty')
  assert.equal(tty.stdout, '/dev/pts/0\r\n', tty.stderr)
})
