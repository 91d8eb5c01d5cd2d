import { type FSWatcher, existsSync, watch } from 'node:fs'
import { relative, sep } from 'node:path'
import type { EngineClient } from '../client/engine-client.ts'
import { IgnoreRules } from '../lib/dockerignore.ts'
import { packPath } from '../lib/tar.ts'
import { defaultUpOptions, up } from './converge.ts'
import { label } from './convert.ts'
import { ComposeError } from './errors.ts'
import { buildService, imageOf } from './images.ts'
import type { Project, ServiceConfig, WatchRule } from './model.ts'
import { projectContainers } from './project-containers.ts'
import type { Report } from './report.ts'

/** Editor droppings and VCS state compose never syncs. */
const ALWAYS_IGNORED = new IgnoreRules('.git\n**/*~\n**/.*.swp\n**/.*.swx\n**/4913\n')

/** Changes are gathered for this long after the last one, then acted on together. */
const QUIET_MS = 300

/**
 * `watch`: each service's `develop.watch` rules, acted on as files change under their paths (a recursive
 * `fs.watch`): `sync` copies changed files into the running containers through the archive API and removes deleted
 * ones; `restart` and `sync+restart` restart them; `sync+exec` runs a command in them after; `rebuild` builds the
 * image and recreates the service. Runs until `signal` aborts.
 */
export async function watchProject(client: EngineClient, project: Project, services: readonly ServiceConfig[], report: Report, signal: AbortSignal): Promise<void> {
  const watched = services.filter((s) => (s.develop?.watch.length ?? 0) > 0)
  if (watched.length === 0) throw new ComposeError('none of the selected services is configured for watch, consider setting a \'develop\' section')
  const watchers: FSWatcher[] = []
  const pending = new Map<WatchRule, { service: ServiceConfig; paths: Set<string>; timer?: NodeJS.Timeout }>()
  let queue = Promise.resolve()
  const act = (rule: WatchRule): void => {
    const p = pending.get(rule)!
    const paths = [...p.paths]
    p.paths.clear()
    queue = queue.then(() => apply(client, project, p.service, rule, paths, report)).catch((err: unknown) => report(`Error while watching ${p.service.name}: ${err instanceof Error ? err.message : String(err)}`))
  }
  for (const s of watched) {
    for (const rule of s.develop!.watch) {
      if (!existsSync(rule.path)) throw new ComposeError(`services.${s.name}.develop.watch: ${rule.path} does not exist`)
      const ignore = new IgnoreRules(rule.ignore.join('\n'))
      pending.set(rule, { service: s, paths: new Set() })
      if (rule.initial_sync && rule.target) act(rule)
      const w = watch(rule.path, { recursive: true, signal }, (_event, name) => {
        const rel = name === null ? '' : name.toString().split(sep).join('/')
        if (rel !== '' && (ALWAYS_IGNORED.excludes(rel) || ignore.excludes(rel))) return
        const p = pending.get(rule)!
        p.paths.add(rel === '' ? rule.path : `${rule.path}/${rel}`)
        clearTimeout(p.timer)
        p.timer = setTimeout(() => act(rule), QUIET_MS)
      })
      w.on('error', () => {})
      watchers.push(w)
    }
  }
  report('Watch enabled')
  await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })))
  for (const w of watchers) w.close()
  for (const p of pending.values()) clearTimeout(p.timer)
  await queue
}

async function apply(client: EngineClient, project: Project, s: ServiceConfig, rule: WatchRule, paths: string[], report: Report): Promise<void> {
  if (rule.action === 'rebuild') {
    report(`Rebuilding service "${s.name}" after changes were detected`)
    await buildService(client, s, imageOf(project, s), report)
    await up(client, { ...project, services: [s] }, { ...defaultUpOptions }, report)
    report(`service "${s.name}" successfully built`)
    return
  }
  const containers = (await projectContainers(client, project.name, { all: false })).filter((c) => c.Labels[label.service] === s.name)
  if (rule.action !== 'restart') {
    report(`Syncing service "${s.name}" after ${paths.length} changes were detected`)
    for (const c of containers) {
      const removed: string[] = []
      for (const path of paths) {
        const target = `${rule.target!.replace(/\/+$/, '')}/${relative(rule.path, path).split(sep).join('/')}`.replace(/\/$/, '')
        if (!existsSync(path)) {
          removed.push(target)
          continue
        }
        await client.containers.putArchive(c.Id, '/', packPath(path, target.replace(/^\/+/, '')))
      }
      if (removed.length > 0) await execIn(client, c.Id, ['rm', '-rf', '--', ...removed])
    }
  }
  if (rule.action === 'restart' || rule.action === 'sync+restart') {
    for (const c of containers) {
      report(`Restarting service "${s.name}" after changes were detected`)
      await client.containers.restart(c.Id)
    }
  }
  if (rule.action === 'sync+exec' && rule.exec) for (const c of containers) await execIn(client, c.Id, rule.exec)
}

async function execIn(client: EngineClient, container: string, cmd: string[]): Promise<void> {
  const { Id } = await client.execs.create(container, { Cmd: cmd, AttachStdout: true, AttachStderr: true })
  const { output } = await client.execs.start(Id)
  for await (const chunk of output) void chunk
}
