/**
 * The Engine API's JSON shapes (API 1.50), shared by the API layer, the typed client and the services that
 * build them. Field names and casing are Docker's; clients read them literally.
 */

export interface ImageSummary {
  Id: string
  ParentId: string
  RepoTags: string[]
  RepoDigests: string[]
  Created: number
  Size: number
  SharedSize: number
  VirtualSize?: number
  Labels: Record<string, string>
  Containers: number
  /** From API 1.47, with `manifests=1`. */
  Manifests?: ImageManifestSummary[]
}

/** An OCI descriptor as the Engine API shows it (a manifest's, with the platform it is for). */
export interface OciDescriptor {
  mediaType: string
  digest: string
  size: number
  platform?: { architecture: string; os: string; variant?: string }
}

/** One manifest of an image, as a multi-platform image store lists it (`Manifests`). */
export interface ImageManifestSummary {
  ID: string
  Descriptor: OciDescriptor
  Available: boolean
  Size: { Total: number; Content: number }
  Kind: 'image' | 'attestation' | 'unknown'
  ImageData?: { Platform: { architecture: string; os: string; variant?: string }; Containers: string[]; Size: { Unpacked: number } }
}

/** One line of `GET /images/{name}/history`, newest first. */
export interface ImageHistoryItem {
  Id: string
  Created: number
  CreatedBy: string
  Tags: string[] | null
  Size: number
  Comment: string
}

export interface ImageInspect {
  Id: string
  RepoTags: string[]
  RepoDigests: string[]
  Parent: string
  Comment: string
  Created: string
  DockerVersion: string
  Author: string
  Config: Record<string, unknown>
  Architecture: string
  Variant?: string
  Os: string
  Size: number
  GraphDriver: { Name: string; Data: Record<string, string> | null }
  RootFS: { Type: string; Layers: string[] }
  Metadata: { LastTagTime: string }
  /** Before API 1.45 only: the container a commit made the image from, and its config. */
  Container?: string
  ContainerConfig?: Record<string, unknown>
  /** From API 1.48: the image's manifest; its `Manifests` with `manifests=1`. */
  Descriptor?: OciDescriptor
  Manifests?: ImageManifestSummary[]
}

export interface ImageDeleteItem {
  Untagged?: string
  Deleted?: string
}

export interface HealthConfig {
  Test?: string[]
  Interval?: number
  Timeout?: number
  StartPeriod?: number
  StartInterval?: number
  Retries?: number
}

export interface ContainerConfig {
  Hostname: string
  Domainname: string
  User: string
  AttachStdin: boolean
  AttachStdout: boolean
  AttachStderr: boolean
  ExposedPorts?: Record<string, object> | null
  Tty: boolean
  OpenStdin: boolean
  StdinOnce: boolean
  Env: string[]
  Cmd: string[] | null
  Healthcheck?: HealthConfig
  Image: string
  Volumes: Record<string, object> | null
  WorkingDir: string
  Entrypoint: string[] | null
  OnBuild: string[] | null
  Labels: Record<string, string>
  StopSignal?: string
  StopTimeout?: number
}

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure'
  MaximumRetryCount: number
}

export interface HostConfig {
  Binds: string[] | null
  NetworkMode: string
  PortBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> | null
  RestartPolicy: RestartPolicy
  AutoRemove: boolean
  LogConfig: { Type: string; Config: Record<string, string> }
  Privileged: boolean
  ReadonlyRootfs: boolean
  CapAdd: string[] | null
  CapDrop: string[] | null
  Init: boolean | null
  [key: string]: unknown
}

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead'
  Running: boolean
  Paused: boolean
  Restarting: boolean
  OOMKilled: boolean
  Dead: boolean
  Pid: number
  ExitCode: number
  Error: string
  StartedAt: string
  FinishedAt: string
  /** Present for a container with a health check. */
  Health?: { Status: string; FailingStreak: number; Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }> }
}

export interface ContainerInspect {
  Id: string
  Created: string
  Path: string
  Args: string[]
  State: ContainerState
  Image: string
  ResolvConfPath: string
  HostnamePath: string
  HostsPath: string
  LogPath: string
  Name: string
  RestartCount: number
  Driver: string
  Platform: string
  MountLabel: string
  ProcessLabel: string
  AppArmorProfile: string
  ExecIDs: string[] | null
  HostConfig: HostConfig
  GraphDriver: { Name: string; Data: Record<string, string> }
  Mounts: unknown[]
  Config: ContainerConfig
  NetworkSettings: Record<string, unknown>
  /** From API 1.48: the manifest of the image the container was created from. */
  ImageManifestDescriptor?: OciDescriptor
}

export interface ContainerSummary {
  Id: string
  Names: string[]
  Image: string
  ImageID: string
  Command: string
  Created: number
  Ports: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }>
  Labels: Record<string, string>
  State: ContainerState['Status']
  Status: string
  HostConfig: { NetworkMode: string }
  NetworkSettings: { Networks: Record<string, unknown> }
  Mounts: unknown[]
  SizeRw?: number
  SizeRootFs?: number
  /** From API 1.48: the manifest of its image, whose platform `ps --format {{.Platform}}` prints. */
  ImageManifestDescriptor?: OciDescriptor
}

export interface ContainerCreateBody extends Partial<Omit<ContainerConfig, 'Env' | 'Labels'>> {
  Env?: string[] | null
  Labels?: Record<string, string> | null
  Image: string
  HostConfig?: Partial<HostConfig>
  NetworkingConfig?: { EndpointsConfig?: Record<string, unknown> }
}

export interface WaitResponse {
  StatusCode: number
  Error: { Message: string } | null
}

export interface Version {
  Platform: { Name: string }
  Components: Array<{ Name: string; Version: string; Details: Record<string, string> }>
  Version: string
  ApiVersion: string
  MinAPIVersion: string
  GitCommit: string
  GoVersion: string
  Os: string
  Arch: string
  KernelVersion: string
  Experimental: boolean
  BuildTime: string
}

export type SystemInfo = Record<string, unknown> & {
  ID: string
  Containers: number
  ContainersRunning: number
  ContainersPaused: number
  ContainersStopped: number
  Images: number
  ServerVersion: string
  Name: string
}

/**
 * A node of the cluster, in the shape of Docker's swarm `Node` (what `docker node ls` reads), with what cais adds
 * in `Status.Addr` (the advertised address) and `UpdatedAt` (when the node last said it was alive).
 */
export interface NodeView {
  ID: string
  CreatedAt: string
  UpdatedAt: string
  Spec: { Role: 'worker'; Availability: 'active'; Labels: Record<string, string> }
  Description: { Hostname: string; Platform: { Architecture: string; OS: string }; Engine: { EngineVersion: string } }
  Status: { State: 'ready'; Addr: string }
}

/** One object of a JSON progress stream (pull, push, import, load). */
export interface JsonMessage {
  status?: string
  id?: string
  stream?: string
  progress?: string
  progressDetail?: { current?: number; total?: number }
  aux?: unknown
  error?: string
  errorDetail?: { code?: number; message: string }
}

export interface EventMessage {
  Type: string
  Action: string
  Actor: { ID: string; Attributes: Record<string, string> }
  scope: 'local'
  time: number
  timeNano: number
  status?: string
  id?: string
  from?: string
}

export interface VolumeView {
  Name: string
  Driver: string
  Mountpoint: string
  CreatedAt: string
  Labels: Record<string, string>
  Scope: 'local'
  Options: Record<string, string> | null
  UsageData?: { Size: number; RefCount: number }
}

/** Credentials for a registry, as `/auth` takes them and X-Registry-Auth carries them (base64url JSON). */
export interface AuthConfig {
  username?: string
  password?: string
  serveraddress?: string
  identitytoken?: string
  registrytoken?: string
}

export interface SearchResult {
  name: string
  description: string
  star_count: number
  is_official: boolean
  is_automated: boolean
}

/** `GET /networks/{id}`. */
export interface NetworkInspect {
  Name: string
  Id: string
  Created: string
  Scope: string
  Driver: string
  EnableIPv6: boolean
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: Array<{ Subnet: string; Gateway: string; IPRange?: string }> }
  Internal: boolean
  Attachable: boolean
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>
  Options: Record<string, string>
  Labels: Record<string, string>
}

/** `POST /networks/create`. */
export interface NetworkCreateBody {
  Name: string
  Driver?: string
  Internal?: boolean
  Attachable?: boolean
  Labels?: Record<string, string>
  Options?: Record<string, string>
  IPAM?: { Driver?: string; Config?: Array<{ Subnet?: string; Gateway?: string; IPRange?: string }> }
  EnableIPv6?: boolean
}

/** `X-Docker-Container-Path-Stat` of the archive endpoints (base64 JSON). */
export interface PathStat {
  name: string
  size: number
  mode: number
  mtime: string
  linkTarget: string
}

/** One sample of `GET /containers/{id}/stats` (the fields clients read). */
export interface StatsSample {
  read: string
  preread: string
  name: string
  id: string
  pids_stats: { current?: number; limit?: number }
  blkio_stats: { io_service_bytes_recursive: Array<{ major: number; minor: number; op: string; value: number }> | null }
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number; online_cpus?: number }
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number; online_cpus?: number }
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> }
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>
}

/** cais's `POST /system/check`: what was looked at (counts by part of the store), and what was found. */
export interface StoreCheckReport {
  Checked: Record<string, number>
  Problems: Array<{ Object: string; ID: string; Problem: string; Repaired?: string }>
}
