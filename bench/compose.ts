// Compose side by side: cais compose and Debian's docker-compose 1.29, each against caisd and dockerd (where
// installed), on a 20-service busybox project: cold `up -d`, no-op `up -d`, `down -v`; and `config` of a generated
// 200-service project with extends (and, for cais compose alone, include: docker-compose 1.29 predates it).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Engine, busyboxImage, median, repo, startCaisd, startDockerd, stop } from './engines.ts'

const runs = Number(process.env['BENCH_RUNS'] ?? 5)
const dockerCompose = '/usr/bin/docker-compose'

interface Tool {
  name: string
  cmd: string
  args: string[]
}

const tools: Tool[] = [
  { name: 'cais compose', cmd: join(repo, 'bin/cais'), args: ['compose'] },
  ...(existsSync(dockerCompose) ? [{ name: 'docker-compose 1.29', cmd: dockerCompose, args: [] }] : []),
]

function timed(tool: Tool, host: string, dir: string, args: string[]): number {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(tool.cmd, [...tool.args, ...args], { cwd: dir, env: { ...process.env, DOCKER_HOST: host, CAIS_HOST: host }, encoding: 'utf8', timeout: 300_000 })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${tool.name} ${args.join(' ')} failed against ${host}: ${r.stderr}`)
  return ms
}

/** Twenty services that start at once and stop at once (SIGKILL: busybox's sleep ignores SIGTERM as PID 1). */
function smallProject(): string {
  const dir = mkdtempSync('/tmp/cais-bench-compose-')
  const services = Array.from({ length: 20 }, (_, i) => `  s${i}:\n    image: busybox\n    command: ["sleep", "3600"]\n    stop_signal: SIGKILL\n    environment:\n      INDEX: "${i}"\n`)
  writeFileSync(join(dir, 'docker-compose.yml'), `services:\n${services.join('')}`)
  return dir
}

/** 200 services, each extending a base in another file; with `include`, a quarter of them come from included files. */
function bigProject(include: boolean): string {
  const dir = mkdtempSync('/tmp/cais-bench-compose-config-')
  writeFileSync(join(dir, 'base.yml'), 'services:\n  base:\n    image: busybox\n    environment:\n      BASE: "1"\n    labels:\n      tier: app\n')
  const service = (i: number): string => `  svc${i}:\n    extends: {file: base.yml, service: base}\n    command: ["sleep", "${i}"]\n    environment:\n      N: "${i}"\n    ports: ["${10000 + i}:80"]\n`
  const own = include ? 150 : 200
  let main = `services:\n${Array.from({ length: own }, (_, i) => service(i)).join('')}`
  if (include) {
    mkdirSync(join(dir, 'more'))
    for (let part = 0; part < 5; part++) {
      writeFileSync(join(dir, 'more', 'base.yml'), 'services:\n  base:\n    image: busybox\n    environment:\n      BASE: "1"\n')
      writeFileSync(join(dir, 'more', `part${part}.yml`), `services:\n${Array.from({ length: 10 }, (_, i) => service(own + part * 10 + i)).join('')}`)
    }
    main = `include:\n${Array.from({ length: 5 }, (_, p) => `  - more/part${p}.yml\n`).join('')}${main}`
  }
  writeFileSync(join(dir, 'docker-compose.yml'), main)
  return dir
}

async function main(): Promise<void> {
  const imageTar = busyboxImage()
  const engines: Engine[] = []
  const dirs: string[] = []
  try {
    engines.push(await startCaisd(imageTar))
    const dockerd = await startDockerd(imageTar)
    if (dockerd) engines.push(dockerd)
    else console.log('dockerd is not installed (apt-get install docker.io): measuring without it')
    if (tools.length < 2) console.log('docker-compose is not installed (apt-get install docker-compose): measuring cais compose alone')
    const small = smallProject()
    const withExtends = bigProject(false)
    const withInclude = bigProject(true)
    dirs.push(small, withExtends, withInclude)

    const samples = new Map<string, number[]>()
    const add = (key: string, ms: number): void => void samples.set(key, [...(samples.get(key) ?? []), ms])
    for (const tool of tools) timed(tool, engines[0]!.host, withExtends, ['config', '-q']) // warm-up
    for (let i = 0; i < runs; i++) {
      for (const e of engines) {
        for (const tool of tools) {
          add(`cold up -d (20 services)|${tool.name}|${e.name}`, timed(tool, e.host, small, ['-p', 'bench', 'up', '-d']))
          add(`no-op up -d|${tool.name}|${e.name}`, timed(tool, e.host, small, ['-p', 'bench', 'up', '-d']))
          add(`down -v|${tool.name}|${e.name}`, timed(tool, e.host, small, ['-p', 'bench', 'down', '-v']))
        }
      }
      for (const tool of tools) add(`config, 200 services with extends|${tool.name}|-`, timed(tool, engines[0]!.host, withExtends, ['config']))
      add(`config, 200 services with extends and include|cais compose|-`, timed(tools[0]!, engines[0]!.host, withInclude, ['config']))
    }
    const rows = [...samples.entries()].map(([key, xs]) => [...key.split('|'), median(xs).toFixed(0)])
    const header = ['workload', 'tool', 'engine', 'median ms']
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('   '))
    // The ratios the issue asks for: cais compose over docker-compose 1.29, on the same engine.
    const ratios: Record<string, number> = {}
    for (const [key, xs] of samples) {
      const [workload, tool, engine] = key.split('|') as [string, string, string]
      if (tool !== 'cais compose') continue
      const theirs = samples.get(`${workload}|docker-compose 1.29|${engine}`)
      if (theirs) ratios[`${workload} on ${engine}`] = median(xs) / median(theirs)
    }
    for (const [k, r] of Object.entries(ratios)) console.log(`${k}: cais compose / docker-compose = ${r.toFixed(2)}×`)
    mkdirSync(join(repo, 'bench/results'), { recursive: true })
    writeFileSync(
      join(repo, 'bench/results/compose.json'),
      JSON.stringify({ date: new Date().toISOString(), runs, medians: Object.fromEntries([...samples.entries()].map(([k, xs]) => [k, median(xs)])), ratios }, null, 2),
    )
  } finally {
    for (const e of engines) {
      for (const tool of tools) spawnSync(tool.cmd, [...tool.args, '-p', 'bench', 'down', '-v'], { cwd: dirs[0] ?? '/tmp', env: { ...process.env, DOCKER_HOST: e.host, CAIS_HOST: e.host }, stdio: 'ignore' })
      stop(e)
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
}

await main()
