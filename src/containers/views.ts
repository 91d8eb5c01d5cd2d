import { join } from 'node:path'
import { humanDuration } from '../lib/time.ts'
import type { NetworkService } from '../networks/service.ts'
import type { VolumeService } from '../volumes/service.ts'
import type { ContainerInspect, ContainerSummary } from '../wire/types.ts'
import { mountView } from './mounts.ts'
import { networkEntries, networkSettings, summaryPorts } from './networking.ts'
import type { ContainerRecord } from './record.ts'

/** What the views read beside the record: its directory, its live execs, and the volume and network services. */
export interface ViewDeps {
  dir: string
  execIds: readonly string[]
  volumes: VolumeService
  networks: NetworkService
}

/** `GET /containers/{id}/json`. */
export function inspectView(rec: ContainerRecord, d: ViewDeps): ContainerInspect {
  return {
    Id: rec.id,
    Created: rec.created,
    Path: rec.path,
    Args: rec.args,
    State: { ...rec.state },
    Image: rec.imageId,
    ResolvConfPath: rec.resolvConfPath,
    HostnamePath: rec.hostnamePath,
    HostsPath: rec.hostsPath,
    LogPath: rec.hostConfig.LogConfig.Type === 'none' ? '' : rec.logPath,
    Name: rec.name,
    RestartCount: rec.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: rec.state.Running && d.execIds.length > 0 ? [...d.execIds] : null,
    HostConfig: rec.hostConfig,
    GraphDriver: {
      Name: 'overlay2',
      Data: { MergedDir: join(d.dir, 'rootfs', 'merged'), UpperDir: join(d.dir, 'rootfs', 'upper'), WorkDir: join(d.dir, 'rootfs', 'work') },
    },
    Mounts: (rec.mounts ?? []).map((m) => mountView(m, d.volumes)),
    Config: rec.config,
    NetworkSettings: networkSettings(rec, d.networks),
    ...(rec.imageManifest ? { ImageManifestDescriptor: rec.imageManifest } : {}),
  }
}

/** `GET /containers/json`'s entry; `linkNames` are the `/parent/alias` names its parents' links give it. */
export function summaryView(r: ContainerRecord, d: Pick<ViewDeps, 'volumes' | 'networks'>, linkNames: readonly string[] = []): ContainerSummary {
  const argv = [r.path, ...r.args]
  return {
    Id: r.id,
    Names: [r.name, ...linkNames],
    Image: r.config.Image,
    ImageID: r.imageId,
    Command: argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' '),
    Created: Math.floor(Date.parse(r.created) / 1000),
    Ports: summaryPorts(r, d.networks),
    Labels: r.config.Labels,
    State: r.state.Status,
    Status: statusText(r),
    HostConfig: { NetworkMode: r.hostConfig.NetworkMode },
    NetworkSettings: { Networks: networkEntries(r, d.networks) },
    Mounts: (r.mounts ?? []).map((m) => mountView(m, d.volumes)),
    ...(r.imageManifest ? { ImageManifestDescriptor: r.imageManifest } : {}),
  }
}

/** What every container event carries: its labels, image and name. */
export function attributesOf(rec: ContainerRecord): Record<string, string> {
  return { ...rec.config.Labels, image: rec.config.Image, name: rec.name.slice(1) }
}

/** Docker's `Status` column: "Up 5 minutes", "Exited (0) 2 seconds ago", "Created". */
export function statusText(r: ContainerRecord, now = Date.now()): string {
  switch (r.state.Status) {
    case 'created':
      return 'Created'
    case 'running': {
      const health = r.state.Health?.Status
      const suffix = health === undefined ? '' : health === 'starting' ? ' (health: starting)' : ` (${health})`
      return `Up ${humanDuration(now - Date.parse(r.state.StartedAt))}${suffix}`
    }
    case 'paused':
      return `Up ${humanDuration(now - Date.parse(r.state.StartedAt))} (Paused)`
    case 'restarting':
      return `Restarting (${r.state.ExitCode}) ${humanDuration(now - Date.parse(r.state.FinishedAt))} ago`
    case 'removing':
      return 'Removal In Progress'
    case 'dead':
      return 'Dead'
    default:
      return `Exited (${r.state.ExitCode}) ${humanDuration(now - Date.parse(r.state.FinishedAt))} ago`
  }
}

