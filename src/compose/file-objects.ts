import { Readable } from 'node:stream'
import tar from 'tar-stream'
import type { EngineClient } from '../client/engine-client.ts'
import { ComposeError } from './errors.ts'
import type { FileObjectConfig, FileReference, Project, ServiceConfig } from './model.ts'

/**
 * Copies the secrets and configs a service takes from the environment or inline content into its created (not yet
 * started) container through the archive API, with their uid, gid and mode. File-backed ones are bind mounts.
 */
export async function copyFileObjects(client: EngineClient, project: Project, s: ServiceConfig, containerId: string, environment: ReadonlyMap<string, string>): Promise<void> {
  const entries: Array<{ ref: FileReference; content: string; fallbackMode: number }> = []
  for (const [refs, objects, kind, fallbackMode] of [[s.secrets, project.secrets, 'secret', 0o444], [s.configs, project.configs, 'config', 0o444]] as const) {
    for (const ref of refs) {
      const obj: FileObjectConfig = objects[ref.source]!
      if (obj.file !== undefined) continue
      let content = obj.content
      if (obj.environment !== undefined) {
        content = environment.get(obj.environment)
        if (content === undefined) throw new ComposeError(`${kind} ${ref.source}: environment variable ${obj.environment} is not set`)
      }
      entries.push({ ref, content: content ?? '', fallbackMode })
    }
  }
  if (entries.length === 0) return
  const pack = tar.pack()
  for (const e of entries) {
    pack.entry({
      name: e.ref.target.replace(/^\/+/, ''),
      mode: e.ref.mode ?? e.fallbackMode,
      uid: Number(e.ref.uid ?? 0),
      gid: Number(e.ref.gid ?? 0),
      mtime: new Date(),
    }, e.content)
  }
  pack.finalize()
  await client.containers.putArchive(containerId, '/', Readable.from(pack), { copyUIDGID: true })
}
