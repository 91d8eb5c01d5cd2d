import type { Command } from '../../command.ts'
import { str } from '../../flags.ts'
import { renderTemplate } from '../../output/template.ts'
import { humanSize } from '../../../lib/size.ts'

export const infoCommand: Command = {
  name: 'info',
  group: 'system',
  usage: 'cais info [OPTIONS]',
  description: 'Display system-wide information',
  flags: [{ name: 'format', short: 'f', type: 'string' }],
  maxArgs: 0,
  async run(client, p, io) {
    const info = await client.system.info()
    const format = str(p, 'format')
    if (format) {
      io.out(format === 'json' ? JSON.stringify(info) : renderTemplate(format, info))
      return 0
    }
    const lines = [
      'Server:',
      ` Containers: ${info.Containers}`,
      `  Running: ${info.ContainersRunning}`,
      `  Paused: ${info.ContainersPaused}`,
      `  Stopped: ${info.ContainersStopped}`,
      ` Images: ${info.Images}`,
      ` Server Version: ${info.ServerVersion}`,
      ` Storage Driver: ${String(info['Driver'])}`,
      ` Logging Driver: ${String(info['LoggingDriver'])}`,
      ` Cgroup Driver: ${String(info['CgroupDriver'])}`,
      ` Cgroup Version: ${String(info['CgroupVersion'])}`,
      ` Runtimes: ${Object.keys((info['Runtimes'] as Record<string, unknown> | undefined) ?? {}).join(' ')}`,
      ` Default Runtime: ${String(info['DefaultRuntime'])}`,
      ` Kernel Version: ${String(info['KernelVersion'])}`,
      ` Operating System: ${String(info['OperatingSystem'])}`,
      ` OSType: ${String(info['OSType'])}`,
      ` Architecture: ${String(info['Architecture'])}`,
      ` CPUs: ${String(info['NCPU'])}`,
      ` Total Memory: ${humanSize(Number(info['MemTotal']))}`,
      ` Name: ${info.Name}`,
      ` ID: ${info.ID}`,
      ` Docker Root Dir: ${String(info['DockerRootDir'])}`,
    ]
    if (typeof info['ConfigFile'] === 'string') lines.push(` Config File: ${info['ConfigFile']}`)
    lines.push(` Debug Mode: ${String(info['Debug'])}`)
    const registry = info['RegistryConfig'] as { IndexConfigs?: Record<string, { Name: string; Secure: boolean }>; InsecureRegistryCIDRs?: string[]; Mirrors?: string[] } | undefined
    const insecure = [...Object.values(registry?.IndexConfigs ?? {}).filter((c) => !c.Secure).map((c) => c.Name), ...(registry?.InsecureRegistryCIDRs ?? [])]
    if (insecure.length > 0) lines.push(' Insecure Registries:', ...insecure.map((r) => `  ${r}`))
    if ((registry?.Mirrors ?? []).length > 0) lines.push(' Registry Mirrors:', ...registry!.Mirrors!.map((m) => `  ${m}`))
    const labels = (info['Labels'] as string[] | undefined) ?? []
    if (labels.length > 0) lines.push(' Labels:', ...labels.map((l) => `  ${l}`))
    lines.push(` Live Restore Enabled: ${String(info['LiveRestoreEnabled'])}`)
    for (const l of lines) io.out(l)
    for (const w of (info['Warnings'] as string[] | undefined) ?? []) io.err(w)
    return 0
  },
}
