import { existsSync, readFileSync, statSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import type { EngineClient } from '../client/engine-client.ts'
import { label } from '../compose/convert.ts'
import { defaultUpOptions, up } from '../compose/converge.ts'
import { down } from '../compose/down.ts'
import { ComposeError } from '../compose/errors.ts'
import { pullImage } from '../compose/images.ts'
import { restart } from '../compose/lifecycle.ts'
import { loadProject } from '../compose/load.ts'
import { type Project, normalizeProject } from '../compose/model.ts'
import { projectContainers } from '../compose/project-containers.ts'
import { HttpError } from './http-util.ts'

/** Where a stack's compose files are, as its containers' labels say (whoever made them). */
export interface StackFiles {
  project: string
  workingDir: string
  configFiles: string[]
}

/** A problem in a compose file, where the editor can show it (lines and columns from 1). */
export interface Diagnostic {
  line: number
  column: number
  message: string
}

export type StackAction = 'up' | 'down' | 'pull' | 'restart'

/** Compose files larger than this are not edited in the browser. */
const maxEditableBytes = 1024 * 1024

export async function stackFilesOf(client: EngineClient, project: string): Promise<StackFiles> {
  const [c] = await projectContainers(client, project, { all: true, oneoff: true })
  if (!c) throw new HttpError(404, `no compose project ${project} on this engine`)
  const configFiles = (c.Labels[label.configFiles] ?? '').split(',').filter(Boolean)
  return { project, workingDir: c.Labels[label.workingDir] ?? '', configFiles }
}

/**
 * The stack's project, loaded from its files as its containers name them, `contents` read instead of what is on
 * disk. A stack whose files are not on this machine (made on another) cannot be loaded here, and says so.
 */
export function loadStack(files: StackFiles, contents?: ReadonlyMap<string, string>): Project {
  const missing = files.configFiles.filter((f) => !existsSync(f))
  if (files.configFiles.length === 0 || missing.length > 0) {
    throw new HttpError(409, `the compose files of ${files.project} are not on this machine (${missing.join(', ') || 'none recorded'})`)
  }
  const loaded = loadProject({ files: files.configFiles, projectName: files.project, projectDirectory: files.workingDir || undefined, envFiles: [], env: process.env, cwd: files.workingDir || '/', contents })
  return normalizeProject(loaded, { profiles: [], warnings: [] })
}

/** `up -d`, `down`, `pull` or `restart` of a stack through the compose library; the lines compose reports. */
export async function stackAction(client: EngineClient, files: StackFiles, action: StackAction): Promise<string[]> {
  const project = loadStack(files)
  const lines: string[] = []
  const report = (line: string): void => void lines.push(line)
  try {
    if (action === 'up') await up(client, project, defaultUpOptions, report)
    else if (action === 'down') await down(client, project, { volumes: false, removeOrphans: false }, report)
    else if (action === 'pull') await Promise.all(project.services.filter((s) => s.image && s.pull_policy !== 'build' && s.pull_policy !== 'never').map((s) => pullImage(client, s.name, s.image!, report)))
    else await restart(client, project, {}, report)
  } catch (err) {
    if (err instanceof ComposeError) throw new HttpError(400, [...lines, err.message].join('\n'))
    throw err
  }
  return lines
}

/** The compose file the editor shows: the stack's first, as its containers name it. */
export function editableFile(files: StackFiles): { path: string; content: string } {
  const path = files.configFiles[0]
  if (!path || !existsSync(path)) throw new HttpError(409, `the compose files of ${files.project} are not on this machine`)
  if (statSync(path).size > maxEditableBytes) throw new HttpError(413, `${path} is larger than ${maxEditableBytes} bytes`)
  return { path, content: readFileSync(path, 'utf8') }
}

/** What is wrong with `content` as the stack's first file, the others as they are: compose's own loading and checks. */
export function checkCompose(files: StackFiles, content: string): Diagnostic[] {
  const path = editableFile(files).path
  try {
    loadStack(files, new Map([[path, content]]))
    return []
  } catch (err) {
    if (!(err instanceof ComposeError)) throw err
    return [diagnosticOf(err.message, path)]
  }
}

/**
 * Saves an edit in place (the file keeps its path, owner and mode; nothing is moved) when compose finds nothing
 * wrong with it; otherwise returns what it found and leaves the file as it was.
 */
export async function saveCompose(files: StackFiles, content: string): Promise<Diagnostic[]> {
  if (Buffer.byteLength(content) > maxEditableBytes) throw new HttpError(413, `a compose file larger than ${maxEditableBytes} bytes is not saved from here`)
  const problems = checkCompose(files, content)
  if (problems.length === 0) await writeFile(editableFile(files).path, content)
  return problems
}

/** A compose error's place in the edited file (`file:line:col: …` in it), or its first line when it names none. */
function diagnosticOf(message: string, path: string): Diagnostic {
  const at = message.indexOf(`${path}:`)
  const m = at >= 0 ? /^:(\d+):(\d+):?\s*/.exec(message.slice(at + path.length)) : null
  return m ? { line: Number(m[1]), column: Number(m[2]), message } : { line: 1, column: 1, message }
}
