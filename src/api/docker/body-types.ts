import { invalid } from '../../lib/errors.ts'

/** A JSON field's Go type, as Docker's decoder checks it: a wrong type is a 400 before anything happens. */
type GoType = 'string' | 'bool' | 'int' | 'ints' | 'strings' | 'map' | 'object' | 'objects' | 'stringOrStrings'

const configFields: Record<string, GoType> = {
  Hostname: 'string', Domainname: 'string', User: 'string', AttachStdin: 'bool', AttachStdout: 'bool', AttachStderr: 'bool',
  ExposedPorts: 'map', Tty: 'bool', OpenStdin: 'bool', StdinOnce: 'bool', Env: 'strings', Cmd: 'stringOrStrings', Healthcheck: 'object',
  ArgsEscaped: 'bool', Image: 'string', Volumes: 'map', WorkingDir: 'string', Entrypoint: 'stringOrStrings', NetworkDisabled: 'bool',
  MacAddress: 'string', OnBuild: 'strings', Labels: 'map', StopSignal: 'string', StopTimeout: 'int', Shell: 'strings',
  HostConfig: 'object', NetworkingConfig: 'object',
}

const hostConfigFields: Record<string, GoType> = {
  Binds: 'strings', ContainerIDFile: 'string', LogConfig: 'object', NetworkMode: 'string', PortBindings: 'map', RestartPolicy: 'object',
  AutoRemove: 'bool', VolumeDriver: 'string', VolumesFrom: 'strings', ConsoleSize: 'ints', Annotations: 'map', CapAdd: 'strings',
  CapDrop: 'strings', CgroupnsMode: 'string', Dns: 'strings', DnsOptions: 'strings', DnsSearch: 'strings', ExtraHosts: 'strings',
  GroupAdd: 'strings', IpcMode: 'string', Cgroup: 'string', Links: 'strings', OomScoreAdj: 'int', PidMode: 'string', Privileged: 'bool',
  PublishAllPorts: 'bool', ReadonlyRootfs: 'bool', SecurityOpt: 'strings', StorageOpt: 'map', Tmpfs: 'map', UTSMode: 'string',
  UsernsMode: 'string', ShmSize: 'int', Sysctls: 'map', Runtime: 'string', Isolation: 'string', CpuShares: 'int', Memory: 'int',
  NanoCpus: 'int', CgroupParent: 'string', BlkioWeight: 'int', BlkioWeightDevice: 'objects', BlkioDeviceReadBps: 'objects',
  BlkioDeviceWriteBps: 'objects', BlkioDeviceReadIOps: 'objects', BlkioDeviceWriteIOps: 'objects', CpuPeriod: 'int', CpuQuota: 'int',
  CpuRealtimePeriod: 'int', CpuRealtimeRuntime: 'int', CpusetCpus: 'string', CpusetMems: 'string', Devices: 'objects',
  DeviceCgroupRules: 'strings', DeviceRequests: 'objects', MemoryReservation: 'int', MemorySwap: 'int', MemorySwappiness: 'int',
  OomKillDisable: 'bool', PidsLimit: 'int', Ulimits: 'objects', CpuCount: 'int', CpuPercent: 'int', Mounts: 'objects',
  MaskedPaths: 'strings', ReadonlyPaths: 'strings', Init: 'bool',
}

const goNames: Record<GoType, string> = {
  string: 'string', bool: 'bool', int: 'int64', ints: '[]uint', strings: '[]string', map: 'map[string]string', object: 'struct', objects: '[]struct', stringOrStrings: 'strslice.StrSlice',
}

/** The JSON kind as Go's decoder names it in its errors (`bool`, not `boolean`). */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array'
  if (v === null) return 'null'
  if (typeof v === 'boolean') return 'bool'
  return typeof v === 'object' ? 'object' : typeof v
}

function fits(v: unknown, t: GoType): boolean {
  if (v === null || v === undefined) return true // null is Go's zero value
  switch (t) {
    case 'string':
      return typeof v === 'string'
    case 'bool':
      return typeof v === 'boolean'
    case 'int':
      return typeof v === 'number' && Number.isInteger(v)
    case 'ints':
      return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x))
    case 'strings':
      return Array.isArray(v) && v.every((x) => typeof x === 'string')
    case 'stringOrStrings':
      return typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))
    case 'map':
    case 'object':
      return typeof v === 'object' && !Array.isArray(v)
    case 'objects':
      return Array.isArray(v) && v.every((x) => x === null || (typeof x === 'object' && !Array.isArray(x)))
  }
}

function check(body: Record<string, unknown>, fields: Record<string, GoType>, struct: string): void {
  for (const [k, t] of Object.entries(fields)) {
    const v = body[k]
    if (!fits(v, t)) throw invalid(`json: cannot unmarshal ${jsonKind(v)} into Go struct field ${struct}.${k} of type ${goNames[t]}`)
  }
}

/** A container create (or update) body with each known field of the JSON type Docker's decoder expects. */
export function checkCreateBodyTypes(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(`json: cannot unmarshal ${jsonKind(body)} into Go value of type container.CreateRequest`)
  const b = body as Record<string, unknown>
  check(b, configFields, 'CreateRequest')
  if (b['HostConfig']) checkHostConfigTypes(b['HostConfig'])
}

export function checkHostConfigTypes(hostConfig: unknown): void {
  if (typeof hostConfig !== 'object' || hostConfig === null || Array.isArray(hostConfig)) throw invalid(`json: cannot unmarshal ${jsonKind(hostConfig)} into Go value of type container.HostConfig`)
  check(hostConfig as Record<string, unknown>, hostConfigFields, 'HostConfig')
}

const volumeCreateFields: Record<string, GoType> = { Name: 'string', Driver: 'string', DriverOpts: 'map', Labels: 'map' }

const networkCreateFields: Record<string, GoType> = {
  Name: 'string', Driver: 'string', Scope: 'string', Internal: 'bool', Attachable: 'bool', Ingress: 'bool', EnableIPv6: 'bool',
  EnableIPv4: 'bool', CheckDuplicate: 'bool', IPAM: 'object', Options: 'map', Labels: 'map',
}

/** A volume create body with each field of the type Docker's decoder expects (a `Labels: false` is a 400, not a volume). */
export function checkVolumeCreateTypes(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(`json: cannot unmarshal ${jsonKind(body)} into Go value of type volume.CreateOptions`)
  check(body as Record<string, unknown>, volumeCreateFields, 'CreateOptions')
}

/** A network create body with each field of the type Docker's decoder expects. */
export function checkNetworkCreateTypes(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(`json: cannot unmarshal ${jsonKind(body)} into Go value of type network.CreateRequest`)
  check(body as Record<string, unknown>, networkCreateFields, 'CreateRequest')
}
