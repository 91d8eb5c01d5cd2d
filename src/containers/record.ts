import type { Digest } from '../content/digest.ts'
import type { ContainerConfig, ContainerState, HostConfig, OciDescriptor } from '../wire/types.ts'
import type { EndpointRequest } from '../networks/service.ts'
import type { MountPoint } from './mounts.ts'

/** Everything caisd keeps about one container, persisted as `<root>/containers/<id>/container.json`. */
export interface ContainerRecord {
  id: string
  /** With Docker's leading slash: `/web`. */
  name: string
  created: string
  path: string
  args: string[]
  config: ContainerConfig
  hostConfig: HostConfig
  imageId: Digest
  /** The manifest of that image, with its platform (inspect's ImageManifestDescriptor); absent in older records. */
  imageManifest?: OciDescriptor
  /** Top layer of the image when the container was created; keeps its chain alive. */
  topLayer: Digest | null
  state: ContainerState
  restartCount: number
  logPath: string
  hostnamePath: string
  hostsPath: string
  resolvConfPath: string
  /** Set by stop and kill, cleared by start: restart policies leave such a container alone. */
  manuallyStopped?: boolean
  /** Paused by a commit, not by its user: a daemon that dies mid-commit unpauses it at its next start. */
  pausedForCommit?: boolean
  /** Volumes, binds and tmpfs mounts, resolved at create. */
  mounts: MountPoint[]
  /** The bridge networks it joins when it starts (name → endpoint settings); the first carries the default route. */
  networks?: Record<string, EndpointRequest>
}

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: '0001-01-01T00:00:00Z',
    FinishedAt: '0001-01-01T00:00:00Z',
  }
}

/** A HostConfig list of strings (`Dns`, `ExtraHosts`, …); null and missing are empty. */
export function stringList(hc: Record<string, unknown>, key: string): string[] {
  return (hc[key] as string[] | null | undefined) ?? []
}
