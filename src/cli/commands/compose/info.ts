import { writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { stringify } from 'yaml'
import { canonicalProject } from '../../../compose/canonical.ts'
import { COMPOSE_VERSION, label } from '../../../compose/convert.ts'
import { ComposeError } from '../../../compose/errors.ts'
import { configHash } from '../../../compose/model.ts'
import { nameOf } from '../../../compose/project-containers.ts'
import { projectVariables } from '../../../compose/variables.ts'
import { humanSize } from '../../../lib/size.ts'
import type { ContainerSummary, EventMessage } from '../../../wire/types.ts'
import { UsageError, bool, list, str } from '../../flags.ts'
import { renderTable } from '../../output/table.ts'
import { formatRows } from '../../output/template.ts'
import { type Subcommand, selected } from './subcommand.ts'

const portsOf = (c: ContainerSummary): string =>
  c.Ports.map((x) => (x.PublicPort ? `${x.IP ?? '0.0.0.0'}:${x.PublicPort}->${x.PrivatePort}/${x.Type}` : `${x.PrivatePort}/${x.Type}`)).join(', ')

export const infoVerbs: Record<string, Subcommand> = {
  ps: {
    flags: [
      { name: 'all', short: 'a', type: 'bool' },
      { name: 'quiet', short: 'q', type: 'bool' },
      { name: 'format', type: 'string' },
      { name: 'services', type: 'bool' },
      { name: 'status', type: 'list' },
    ],
    async run({ client, io }, project, p) {
      const statuses = list(p, 'status')
      const containers = (await selected(client, project, p.args)).filter((c) => (statuses.length > 0 ? statuses.includes(c.State) : bool(p, 'all') || c.State === 'running'))
      if (bool(p, 'quiet')) {
        for (const c of containers) io.out(c.Id)
        return 0
      }
      if (bool(p, 'services')) {
        for (const s of new Set(containers.map((c) => c.Labels[label.service] ?? ''))) io.out(s)
        return 0
      }
      const rows = containers.map((c) => ({
        Name: nameOf(c),
        Image: c.Image,
        Command: JSON.stringify(c.Command),
        Service: c.Labels[label.service] ?? '',
        Created: c.Created,
        Status: c.Status,
        State: c.State,
        Ports: portsOf(c),
        Project: project.name,
        ID: c.Id,
      }))
      if (str(p, 'format') === 'json') {
        for (const r of rows) io.out(JSON.stringify(r))
        return 0
      }
      const format = str(p, 'format') ?? 'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.Status}}\t{{.Ports}}'
      for (const line of formatRows(format, rows, { Name: 'NAME', Image: 'IMAGE', Command: 'COMMAND', Service: 'SERVICE', Status: 'STATUS', Ports: 'PORTS', State: 'STATE', ID: 'ID', Project: 'PROJECT', Created: 'CREATED' })) io.out(line)
      return 0
    },
  },
  ls: {
    flags: [
      { name: 'all', short: 'a', type: 'bool' },
      { name: 'quiet', short: 'q', type: 'bool' },
      { name: 'format', type: 'string' },
    ],
    withoutProject: true,
    async run({ client, io }, _project, p) {
      const containers = await client.containers.list({ all: true, filters: { label: [label.project] } })
      const projects = new Map<string, { states: Map<string, number>; files: string }>()
      for (const c of containers) {
        const name = c.Labels[label.project]!
        const entry = projects.get(name) ?? { states: new Map<string, number>(), files: c.Labels[label.configFiles] ?? '' }
        entry.states.set(c.State, (entry.states.get(c.State) ?? 0) + 1)
        projects.set(name, entry)
      }
      const rows = [...projects.entries()]
        .filter(([, e]) => bool(p, 'all') || e.states.has('running'))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([Name, e]) => ({ Name, Status: [...e.states.entries()].map(([s, n]) => `${s}(${n})`).join(', '), ConfigFiles: e.files }))
      if (bool(p, 'quiet')) for (const r of rows) io.out(r.Name)
      else if (str(p, 'format') === 'json') io.out(JSON.stringify(rows))
      else for (const line of renderTable([['NAME', 'STATUS', 'CONFIG FILES'], ...rows.map((r) => [r.Name, r.Status, r.ConfigFiles])])) io.out(line)
      return 0
    },
  },
  top: {
    flags: [],
    async run({ client, io }, project, p) {
      for (const c of (await selected(client, project, p.args)).filter((x) => x.State === 'running')) {
        const top = await client.containers.top(c.Id)
        io.out(nameOf(c))
        for (const line of renderTable([top.Titles, ...top.Processes])) io.out(line)
        io.out('')
      }
      return 0
    },
  },
  port: {
    flags: [
      { name: 'protocol', type: 'string' },
      { name: 'index', type: 'string' },
    ],
    async run({ client, io }, project, p) {
      const [service, port] = p.args
      if (!service || !port) throw new UsageError('"cais compose port" requires exactly 2 arguments: SERVICE PRIVATE_PORT')
      const protocol = str(p, 'protocol') ?? 'tcp'
      const index = str(p, 'index') ?? '1'
      const c = (await selected(client, project, [service])).find((x) => (x.Labels[label.number] ?? '1') === index)
      if (!c) throw new ComposeError(`service "${service}" is not running`)
      const binding = c.Ports.find((x) => String(x.PrivatePort) === port && x.Type === protocol && x.PublicPort)
      if (!binding) throw new ComposeError(`no port ${port}/${protocol} for container ${nameOf(c)}`)
      io.out(`${binding.IP ?? '0.0.0.0'}:${binding.PublicPort}`)
      return 0
    },
  },
  images: {
    flags: [
      { name: 'quiet', short: 'q', type: 'bool' },
      { name: 'format', type: 'string' },
    ],
    async run({ client, io }, project, p) {
      const rows: Array<{ ContainerName: string; Repository: string; Tag: string; ID: string; Size: number }> = []
      for (const c of await selected(client, project, p.args)) {
        const image = await client.images.inspect(c.ImageID || c.Image).catch(() => undefined)
        const ref = c.Image.includes(':') && !c.Image.startsWith('sha256:') ? c.Image : `${c.Image}:latest`
        const colon = ref.lastIndexOf(':')
        rows.push({ ContainerName: nameOf(c), Repository: ref.slice(0, colon), Tag: ref.slice(colon + 1), ID: (image?.Id ?? c.ImageID).replace('sha256:', '').slice(0, 12), Size: image?.Size ?? 0 })
      }
      if (bool(p, 'quiet')) for (const id of new Set(rows.map((r) => r.ID))) io.out(id)
      else if (str(p, 'format') === 'json') io.out(JSON.stringify(rows))
      else for (const line of renderTable([['CONTAINER', 'REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE'], ...rows.map((r) => [r.ContainerName, r.Repository, r.Tag, r.ID, humanSize(r.Size)])])) io.out(line)
      return 0
    },
  },
  events: {
    flags: [{ name: 'json', type: 'bool' }],
    async run({ client, io }, project, p) {
      const stream = await client.system.events({ filters: { type: ['container'], label: [`${label.project}=${project.name}`] } })
      for await (const line of createInterface({ input: stream })) {
        if (line.trim() === '') continue
        const e = JSON.parse(line) as EventMessage
        const service = e.Actor.Attributes[label.service] ?? ''
        if (p.args.length > 0 && !p.args.includes(service)) continue
        const attributes = { name: e.Actor.Attributes['name'] ?? '', image: e.Actor.Attributes['image'] ?? '' }
        const time = new Date(e.timeNano / 1e6).toISOString()
        if (bool(p, 'json')) io.out(JSON.stringify({ time, type: 'container', action: e.Action, id: e.Actor.ID, service, attributes }))
        else io.out(`${time} container ${e.Action} ${e.Actor.ID} (${Object.entries(attributes).map(([k, v]) => `${k}=${v}`).join(', ')})`)
      }
      return 0
    },
  },
  config: {
    flags: [
      { name: 'services', type: 'bool' },
      { name: 'volumes', type: 'bool' },
      { name: 'networks', type: 'bool' },
      { name: 'images', type: 'bool' },
      { name: 'profiles', type: 'bool' },
      { name: 'quiet', short: 'q', type: 'bool' },
      { name: 'format', type: 'string' },
      { name: 'hash', type: 'string' },
      { name: 'variables', type: 'bool' },
      { name: 'output', short: 'o', type: 'string' },
    ],
    async run({ io }, project, p) {
      if (bool(p, 'quiet')) return 0
      const lists: Array<[string, () => string[]]> = [
        ['services', () => project.services.map((s) => s.name)],
        ['volumes', () => Object.keys(project.volumes)],
        ['networks', () => Object.keys(project.networks)],
        ['images', () => project.services.map((s) => s.image ?? `${project.name}-${s.name}`)],
        ['profiles', () => [...new Set([...project.services, ...project.disabled].flatMap((s) => s.profiles))].sort()],
      ]
      for (const [flag, values] of lists) {
        if (!bool(p, flag)) continue
        for (const v of values()) io.out(v)
        return 0
      }
      const hash = str(p, 'hash')
      if (hash !== undefined) {
        const wanted = hash === '*' ? project.services.map((s) => s.name) : hash.split(',')
        for (const name of wanted) {
          const s = project.services.find((x) => x.name === name)
          if (!s) throw new ComposeError(`no such service: ${name}`)
          io.out(`${name} ${configHash(s)}`)
        }
        return 0
      }
      if (bool(p, 'variables')) {
        const warnings: string[] = []
        const vars = projectVariables(project, process.env, warnings)
        if (str(p, 'format') === 'json') io.out(JSON.stringify(Object.fromEntries(vars.map((v) => [v.name, v])), null, 2))
        else {
          const rows = vars.map((v) => [v.name, v.required ? 'true' : 'false', v.defaultValue, v.alternateValue, v.value ?? '', v.source])
          for (const line of renderTable([['NAME', 'REQUIRED', 'DEFAULT VALUE', 'ALTERNATE VALUE', 'VALUE', 'SOURCE'], ...rows])) io.out(line)
        }
        for (const w of warnings) io.err(`WARN[0000] ${w}`)
        return 0
      }
      const doc = canonicalProject(project)
      const text = str(p, 'format') === 'json' ? JSON.stringify(doc, null, 2) : stringify(doc).trimEnd()
      const output = str(p, 'output')
      if (output !== undefined) {
        writeFileSync(output, `${text}\n`)
      } else io.out(text)
      return 0
    },
  },
  version: {
    flags: [
      { name: 'short', type: 'bool' },
      { name: 'format', short: 'f', type: 'string' },
    ],
    withoutProject: true,
    async run({ io }, _project, p) {
      if (bool(p, 'short')) io.out(COMPOSE_VERSION)
      else if (str(p, 'format') === 'json') io.out(JSON.stringify({ version: `v${COMPOSE_VERSION}` }))
      else io.out(`Docker Compose version v${COMPOSE_VERSION} (cais)`)
      return 0
    },
  },
}
