import { readFile, writeFile } from 'node:fs/promises'
import type { Command } from '../../command.ts'
import { bool, list, str } from '../../flags.ts'
import { BuildFailed, type ProgressMode, displayBuild } from '../../output/build-progress.ts'
import { prepareContext } from '../../../lib/build-context.ts'

export const buildCommand: Command = {
  name: 'build',
  group: 'image',
  usage: 'cais build [OPTIONS] PATH | URL | -',
  description: 'Build an image from a Dockerfile',
  flags: [
    { name: 'tag', short: 't', type: 'list' },
    { name: 'file', short: 'f', type: 'string' },
    { name: 'build-arg', type: 'list' },
    { name: 'target', type: 'string' },
    { name: 'no-cache', type: 'bool' },
    { name: 'no-cache-filter', type: 'list' },
    { name: 'pull', type: 'bool' },
    { name: 'label', type: 'list' },
    { name: 'secret', type: 'list' },
    { name: 'platform', type: 'string' },
    { name: 'quiet', short: 'q', type: 'bool' },
    { name: 'iidfile', type: 'string' },
    { name: 'progress', type: 'string' },
    { name: 'network', type: 'string' },
    { name: 'add-host', type: 'list' },
    { name: 'shm-size', type: 'string' },
    { name: 'cache-from', type: 'list' },
    { name: 'rm', type: 'bool' },
    { name: 'force-rm', type: 'bool' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(client, p, io) {
    const progress = str(p, 'progress') ?? 'auto'
    if (!['auto', 'plain', 'tty', 'quiet'].includes(progress)) throw new Error(`invalid argument "${progress}" for "--progress" flag: auto, plain, tty or quiet`)
    const tty = (io.stderr as { isTTY?: boolean }).isTTY === true
    const mode: ProgressMode = bool(p, 'quiet') || progress === 'quiet' ? 'quiet' : progress === 'tty' || (progress === 'auto' && tty) ? 'tty' : 'plain'
    const buildArgs: Record<string, string | null> = {}
    for (const a of list(p, 'build-arg')) {
      const eq = a.indexOf('=')
      // A name alone takes its value from this environment, as the docker CLI does; unset, it stays unset.
      if (eq < 0) buildArgs[a] = process.env[a] ?? null
      else buildArgs[a.slice(0, eq)] = a.slice(eq + 1)
    }
    if (process.env['SOURCE_DATE_EPOCH'] !== undefined && !('SOURCE_DATE_EPOCH' in buildArgs)) buildArgs['SOURCE_DATE_EPOCH'] = process.env['SOURCE_DATE_EPOCH']
    const labels: Record<string, string> = {}
    for (const l of list(p, 'label')) {
      const eq = l.indexOf('=')
      labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1)
    }
    const headers: Record<string, string> = {}
    const secrets = await secretsOf(list(p, 'secret'))
    if (Object.keys(secrets).length > 0) headers['X-Cais-Build-Secrets'] = Buffer.from(JSON.stringify(secrets)).toString('base64')

    const context = await prepareContext(p.args[0]!, str(p, 'file'), io.stdin)
    try {
      const messages = await client.images.build(
        context.tar,
        {
          t: list(p, 'tag'),
          dockerfile: context.dockerfile,
          buildargs: JSON.stringify(buildArgs),
          labels: Object.keys(labels).length > 0 ? JSON.stringify(labels) : undefined,
          cachefrom: list(p, 'cache-from').length > 0 ? JSON.stringify(list(p, 'cache-from')) : undefined,
          target: str(p, 'target'),
          nocache: bool(p, 'no-cache') || undefined,
          'nocache-filter': list(p, 'no-cache-filter'),
          pull: bool(p, 'pull') || undefined,
          platform: str(p, 'platform'),
          networkmode: str(p, 'network'),
          extrahosts: list(p, 'add-host'),
          shmsize: str(p, 'shm-size') ? parseSize(str(p, 'shm-size')!) : undefined,
          q: mode === 'quiet' || undefined,
          rm: p.flags.get('rm') === false ? '0' : undefined,
          forcerm: bool(p, 'force-rm') || undefined,
        },
        headers,
      )
      let imageId: string | undefined
      try {
        imageId = await displayBuild(messages, mode === 'tty' ? io.stderr : io.stdout, mode)
      } catch (err) {
        if (!(err instanceof BuildFailed)) throw err
        io.err(err.message)
        return err.exitCode || 1
      }
      if (mode === 'quiet' && imageId) io.out(imageId)
      if (mode === 'tty' && imageId) io.err(`Successfully built ${imageId}`)
      const iidfile = str(p, 'iidfile')
      if (iidfile && imageId) await writeFile(iidfile, imageId)
      return 0
    } finally {
      await context.cleanup()
    }
  },
}

/** `--secret id=NAME,src=FILE` (or `env=VAR`): the secrets' contents, base64, by id. */
async function secretsOf(specs: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const spec of specs) {
    const fields = new Map(spec.split(',').map((kv) => {
      const eq = kv.indexOf('=')
      return [eq < 0 ? kv : kv.slice(0, eq), eq < 0 ? '' : kv.slice(eq + 1)] as [string, string]
    }))
    const id = fields.get('id')
    if (!id) throw new Error(`invalid secret ${spec}: an id is required`)
    const src = fields.get('src') ?? fields.get('source')
    const env = fields.get('env')
    if (src) out[id] = (await readFile(src)).toString('base64')
    else if (env !== undefined || process.env[id] !== undefined) out[id] = Buffer.from(process.env[env ?? id] ?? '').toString('base64')
    else throw new Error(`invalid secret ${spec}: a src file or env variable is required`)
  }
  return out
}

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(text.trim())
  if (!m) throw new Error(`invalid size: '${text}'`)
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'b' | 'k' | 'm' | 'g']
  return Math.round(Number(m[1]) * unit)
}
