import type { EngineClient } from '../../../client/engine-client.ts'
import { ApiError } from '../../../client/http.ts'
import type { ContainerCreateBody } from '../../../wire/types.ts'
import { type FlagSpec, type ParsedArgs, UsageError, bool, list, str } from '../../flags.ts'
import type { Io } from '../../io.ts'
import type { Command } from '../../command.ts'
import { readFileSync } from 'node:fs'

export const createFlags: FlagSpec[] = [
  { name: 'name', type: 'string' },
  { name: 'env', short: 'e', type: 'list' },
  { name: 'env-file', type: 'list' },
  { name: 'workdir', short: 'w', type: 'string' },
  { name: 'user', short: 'u', type: 'string' },
  { name: 'entrypoint', type: 'string' },
  { name: 'label', short: 'l', type: 'list' },
  { name: 'hostname', short: 'h', type: 'string' },
  { name: 'rm', type: 'bool' },
  { name: 'tty', short: 't', type: 'bool' },
  { name: 'interactive', short: 'i', type: 'bool' },
  { name: 'network', type: 'string' },
  { name: 'net', type: 'string' },
  { name: 'restart', type: 'string' },
  { name: 'privileged', type: 'bool' },
  { name: 'read-only', type: 'bool' },
  { name: 'cap-add', type: 'list' },
  { name: 'cap-drop', type: 'list' },
  { name: 'add-host', type: 'list' },
  { name: 'stop-signal', type: 'string' },
  { name: 'stop-timeout', type: 'string' },
  { name: 'log-driver', type: 'string' },
  { name: 'platform', type: 'string' },
  { name: 'pull', type: 'string' },
  { name: 'quiet', short: 'q', type: 'bool' },
]

/** Turns run/create flags into the create request body, as the docker CLI does. */
export function createBody(p: ParsedArgs): { body: ContainerCreateBody; name: string | undefined } {
  const [image, ...cmd] = p.args
  if (!image) throw new UsageError('requires at least 1 argument')
  const env: string[] = []
  for (const file of list(p, 'env-file')) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const t = line.trim()
      if (t && !t.startsWith('#')) env.push(t.includes('=') ? t : `${t}=${process.env[t] ?? ''}`)
    }
  }
  for (const e of list(p, 'env')) env.push(e.includes('=') ? e : `${e}=${process.env[e] ?? ''}`)
  const labels: Record<string, string> = {}
  for (const l of list(p, 'label')) {
    const eq = l.indexOf('=')
    labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1)
  }
  const restart = str(p, 'restart')
  const [restartName = 'no', retries = '0'] = (restart ?? 'no').split(':')
  const entrypoint = str(p, 'entrypoint')
  const tty = bool(p, 'tty')
  const interactive = bool(p, 'interactive')
  const stopTimeout = str(p, 'stop-timeout')
  const body: ContainerCreateBody = {
    Image: image,
    Cmd: cmd.length > 0 ? cmd : null,
    Env: env,
    Labels: labels,
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: interactive,
    AttachStdin: interactive,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      AutoRemove: bool(p, 'rm'),
      NetworkMode: str(p, 'network') ?? str(p, 'net') ?? 'default',
      RestartPolicy: { Name: restartName as 'no', MaximumRetryCount: Number(retries) },
      Privileged: bool(p, 'privileged'),
      ReadonlyRootfs: bool(p, 'read-only'),
      CapAdd: list(p, 'cap-add'),
      CapDrop: list(p, 'cap-drop'),
      ExtraHosts: list(p, 'add-host'),
      ...(str(p, 'log-driver') ? { LogConfig: { Type: str(p, 'log-driver')!, Config: {} } } : {}),
    },
  }
  if (entrypoint !== undefined) body.Entrypoint = entrypoint === '' ? [''] : [entrypoint]
  if (str(p, 'workdir')) body.WorkingDir = str(p, 'workdir')!
  if (str(p, 'user')) body.User = str(p, 'user')!
  if (str(p, 'hostname')) body.Hostname = str(p, 'hostname')!
  if (str(p, 'stop-signal')) body.StopSignal = str(p, 'stop-signal')!
  if (stopTimeout !== undefined) body.StopTimeout = Number(stopTimeout)
  return { body, name: str(p, 'name') }
}

/** Creates a container; on "No such image" tries to pull it, as docker does. */
export async function createContainer(client: EngineClient, p: ParsedArgs, io: Io): Promise<string> {
  const { body, name } = createBody(p)
  try {
    return (await client.containers.create(body, { name })).Id
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404 || !err.message.startsWith('No such image')) throw err
    const ref = err.message.slice('No such image: '.length)
    io.err(`Unable to find image '${ref}' locally`)
    const colon = ref.lastIndexOf(':')
    await client.images.pull(ref.slice(0, colon), ref.slice(colon + 1))
    return (await client.containers.create(body, { name })).Id
  }
}

export const runCommand: Command = {
  name: 'run',
  group: 'container',
  usage: 'cais run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create and run a new container from an image',
  flags: [...createFlags, { name: 'detach', short: 'd', type: 'bool' }],
  interspersed: false,
  minArgs: 1,
  errorStatus: 125,
  async run(client, p, io) {
    const id = await createContainer(client, p, io)
    if (bool(p, 'detach')) {
      await client.containers.start(id)
      io.out(id)
      return 0
    }
    const attached = await client.containers.attach(id, { stream: true, stdout: true, stderr: true })
    const { result } = await client.containers.wait(id, bool(p, 'rm') ? 'removed' : 'next-exit')
    const copying = (async () => {
      for await (const chunk of attached.output) (chunk.stream === 'stderr' ? io.stderr : io.stdout).write(chunk.data)
    })().catch(() => {})
    try {
      await client.containers.start(id)
    } catch (err) {
      attached.socket.destroy()
      await copying
      if (bool(p, 'rm')) await result.catch(() => {})
      throw Object.assign(err as Error, { exitStatus: exitStatusFor((err as Error).message) })
    }
    const status = await result
    await copying
    if (status.Error?.Message) io.err(status.Error.Message)
    return status.StatusCode
  },
}

/** docker run maps start failures to 127 (not found), 126 (cannot execute), else 125. */
export function exitStatusFor(message: string): number {
  if (/executable file not found|no such file or directory/i.test(message)) return 127
  if (/permission denied/i.test(message)) return 126
  return 125
}
