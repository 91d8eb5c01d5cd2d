import type { EngineClient } from '../../../client/engine-client.ts'
import { ApiError } from '../../../client/http.ts'
import { type ParsedArgs, UsageError, bool, list, str } from '../../flags.ts'
import type { Io } from '../../io.ts'
import type { Command } from '../../command.ts'
import { connectStreams } from './attach-streams.ts'
import { createBody, createFlags } from './create-flags.ts'

/**
 * Creates a container; when its image is missing, or here only for another platform than `--platform` names,
 * pulls it (for that platform) and tries once more, as docker does.
 */
export async function createContainer(client: EngineClient, p: ParsedArgs, io: Io): Promise<string> {
  const { body, name } = createBody(p)
  const platform = str(p, 'platform')
  try {
    return (await client.containers.create(body, { name, platform })).Id
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err
    const missing = err.message.startsWith('No such image: ')
    if (!missing && !err.message.includes('does not match the specified platform')) throw err
    const ref = missing ? err.message.slice('No such image: '.length) : withTag(body.Image)
    io.err(`Unable to find image '${ref}' locally`)
    // Loaded only when needed: a run of an image that is here skips the pull's modules.
    const { pullImage } = await import('../image/pull.ts')
    await pullImage(client, ref, io, { toStderr: true, platform })
    return (await client.containers.create(body, { name, platform })).Id
  }
}

/** A reference with `:latest` when it names neither a tag nor a digest (a registry's port is not a tag). */
const withTag = (image: string): string => (image.includes('@') || image.slice(image.lastIndexOf('/') + 1).includes(':') ? image : `${image}:latest`)

export const runCommand: Command = {
  name: 'run',
  group: 'container',
  usage: 'cais run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create and run a new container from an image',
  flags: [...createFlags, { name: 'detach', short: 'd', type: 'bool' }, { name: 'detach-keys', type: 'string' }, { name: 'attach', short: 'a', type: 'list' }],
  interspersed: false,
  minArgs: 1,
  errorStatus: 125,
  async run(client, p, io) {
    if (bool(p, 'detach') && list(p, 'attach').length > 0) throw new UsageError('Conflicting options: -a and -d')
    const id = await createContainer(client, p, io)
    if (bool(p, 'detach')) {
      await client.containers.start(id)
      io.out(id)
      return 0
    }
    // -a picks the streams to attach (STDIN, STDOUT, STDERR); without it stdout and stderr, and stdin with -i.
    const picked = list(p, 'attach').map((s) => s.toLowerCase())
    for (const s of picked) if (!['stdin', 'stdout', 'stderr'].includes(s)) throw new UsageError(`invalid argument "${s}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`)
    const wants = (s: string): boolean => picked.length === 0 || picked.includes(s)
    const interactive = bool(p, 'interactive') && (picked.length === 0 || picked.includes('stdin'))
    const attached = await client.containers.attach(id, { stream: true, stdout: wants('stdout'), stderr: wants('stderr'), stdin: interactive, detachKeys: str(p, 'detach-keys') })
    const { result } = await client.containers.wait(id, bool(p, 'rm') ? 'removed' : 'next-exit')
    const streams = connectStreams((h, w) => client.containers.resize(id, h, w), attached, io, { stdin: interactive, tty: bool(p, 'tty') })
    try {
      await client.containers.start(id)
    } catch (err) {
      attached.socket.destroy()
      await streams.done
      if (bool(p, 'rm')) await result.catch(() => {})
      throw Object.assign(err as Error, { exitStatus: exitStatusFor((err as Error).message) })
    }
    await streams.started()
    // Output ends either at the container's exit or, with stdin attached, when the user typed the detach keys
    // (the container keeps running). Without stdin no keys can come: no need to ask.
    await streams.done
    if (interactive && (await client.containers.inspect(id).catch(() => undefined))?.State.Running) {
      attached.socket.destroy()
      return 0
    }
    const status = await result
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
