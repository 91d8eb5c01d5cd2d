import { spawn, type ChildProcessByStdio } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { run } from './exec.ts'
import { isMounted } from './mountinfo.ts'

// mount(2) and umount2(2) by architecture; elsewhere the mount(8) tools do it.
const syscallNumbers: Partial<Record<string, { mount: number; umount2: number }>> = {
  x64: { mount: 165, umount2: 166 },
  arm64: { mount: 40, umount2: 39 },
}

const MNT_DETACH = 2
const EINVAL = 22
const ENOENT = 2
const EBUSY = 16

/**
 * Makes the two system calls given on each request line (hex-encoded fields) and answers each with `0` or
 * `<errno> <message>`, in order. Perl is part of every Debian system (perl-base is essential).
 */
const helperScript = String.raw`
use strict; $| = 1; $0 = 'caisd-mount-helper';
my ($sys_mount, $sys_umount2) = @ARGV;
while (my $line = <STDIN>) {
  chomp $line;
  my ($op, @a) = map { pack('H*', $_) } split(/ /, $line, -1);
  my $r = -1;
  if ($op eq 'mount') {
    my ($cwd, $source, $target, $type, $flags, $data) = @a;
    $r = syscall($sys_mount + 0, $source, $target, $type, $flags + 0, $data) if chdir($cwd);
  } elsif ($op eq 'umount') {
    my ($target, $flags) = @a;
    $r = syscall($sys_umount2 + 0, $target, $flags + 0);
  } else { $! = 22 }
  print $r == -1 ? ($! + 0) . " $!\n" : "0\n";
}
`

export class MountError extends Error {
  readonly errno: number

  constructor(message: string, errno: number) {
    super(message)
    this.errno = errno
  }
}

type Helper = ChildProcessByStdio<Writable, Readable, null>

interface Answer {
  errno: number
  message: string
}

/**
 * mount(2) and umount2(2) without a process per call: a fork of the daemon blocks its event loop for 1–5 ms
 * (more as its heap grows), and mount(8) spends another millisecond loading libmount. One small helper process,
 * started on first use, makes the calls; where it cannot run (no perl, another architecture, or it died), each
 * call spawns mount(8) or umount(8) as before.
 */
export class Mounter {
  #helper: Helper | undefined
  readonly #pending: Array<(answer: Answer | undefined) => void> = []
  #unavailable: boolean
  readonly #idleMs: number
  #idleTimer: NodeJS.Timeout | undefined

  /**
   * `helper: false` makes every call spawn the tools. The helper ends after `idleMs` without a call (a daemon at rest
   * need not keep its 5 MB) and starts again at the next one.
   */
  constructor(opts: { helper?: boolean; idleMs?: number } = {}) {
    this.#unavailable = opts.helper === false
    this.#idleMs = opts.idleMs ?? 10_000
  }

  /** The helper's PID while it runs. */
  get helperPid(): number | undefined {
    return this.#helper?.pid
  }

  /** Mounts an overlay at `target`; relative lower dirs in `options` resolve against `cwd`. */
  async mountOverlay(target: string, options: string, cwd: string): Promise<void> {
    const answer = await this.#call(['mount', cwd, 'overlay', target, 'overlay', '0', options])
    if (answer === undefined) {
      await run('mount', ['-t', 'overlay', 'overlay', '-o', options, target], { cwd })
      return
    }
    if (answer.errno !== 0) throw new MountError(`mount overlay at ${target}: ${answer.message}`, answer.errno)
  }

  /** Unmounts `target`, lazily when it is busy; nothing to do when it is not a mount point. */
  async unmount(target: string): Promise<void> {
    const first = await this.#call(['umount', target, '0'])
    const answer = first?.errno === EBUSY ? await this.#call(['umount', target, String(MNT_DETACH)]) : first
    if (answer === undefined) {
      if (await isMounted(target)) await run('umount', [target]).catch(async () => run('umount', ['-l', target]))
      return
    }
    if (answer.errno !== 0 && answer.errno !== EINVAL && answer.errno !== ENOENT) {
      throw new MountError(`unmount ${target}: ${answer.message}`, answer.errno)
    }
  }

  close(): void {
    clearTimeout(this.#idleTimer)
    this.#helper?.stdin.end()
    this.#helper = undefined
    this.#unavailable = true
  }

  /** Ends the helper once it has been idle a while; a call meanwhile starts it again. */
  #retireWhenIdle(): void {
    clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(() => {
      const helper = this.#helper
      if (!helper || this.#pending.length > 0) return
      this.#helper = undefined
      helper.stdin.end()
    }, this.#idleMs)
    this.#idleTimer.unref()
  }

  /** The helper's answer, or undefined when there is no helper to ask. */
  #call(fields: string[]): Promise<Answer | undefined> {
    const helper = this.#start()
    if (!helper?.stdin.writable) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      this.#pending.push(resolve)
      helper.stdin.write(fields.map((f) => Buffer.from(f).toString('hex')).join(' ') + '\n')
    })
  }

  #start(): Helper | undefined {
    if (this.#helper || this.#unavailable) return this.#helper
    const numbers = syscallNumbers[process.arch]
    if (!numbers || !existsSync('/usr/bin/perl')) {
      this.#unavailable = true
      return undefined
    }
    const helper = spawn('/usr/bin/perl', ['-e', helperScript, String(numbers.mount), String(numbers.umount2)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    })
    createInterface({ input: helper.stdout }).on('line', (line) => {
      const space = line.indexOf(' ')
      const errno = Number(space < 0 ? line : line.slice(0, space))
      this.#pending.shift()?.({ errno, message: space < 0 ? '' : line.slice(space + 1) })
      if (this.#pending.length === 0) this.#retireWhenIdle()
    })
    const gone = (): void => {
      // One retired when idle ended as asked (its stdin closed, nothing pending); the next call starts another.
      if (this.#helper !== helper) return
      // Calls in flight when it died fall back to the tools, as every later one does.
      this.#helper = undefined
      this.#unavailable = true
      for (const resolve of this.#pending.splice(0)) resolve(undefined)
    }
    helper.on('exit', gone)
    helper.on('error', gone)
    helper.stdin.on('error', () => {})
    this.#helper = helper
    return helper
  }
}
