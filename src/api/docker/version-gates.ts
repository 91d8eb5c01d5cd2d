import { invalid } from '../../lib/errors.ts'
import type { ContainerCreateBody, ContainerInspect } from '../../wire/types.ts'
import { compareVersions } from '../versions.ts'

type Mount = Record<string, unknown> & {
  Type?: string
  BindOptions?: Record<string, unknown> | null
  VolumeOptions?: Record<string, unknown> | null
  TmpfsOptions?: Record<string, unknown> | null
  ImageOptions?: Record<string, unknown> | null
}
type Endpoint = Record<string, unknown> & { MacAddress?: string | null }

/**
 * What a container create means at the API version the client speaks, as Docker's router decides it before the
 * daemon sees the request: fields a version did not have are dropped for its clients, checks a version added apply
 * from it on, and defaults a version changed keep their old value for older clients. Changes `body` in place and
 * returns the warnings Docker gives.
 */
export function applyCreateGates(body: ContainerCreateBody, version: string): string[] {
  const below = (v: string): boolean => compareVersions(version, v) < 0
  const hc = (body.HostConfig ??= {}) as Record<string, unknown>
  const mounts = ((hc['Mounts'] as Mount[] | null | undefined) ?? []).filter((m): m is Mount => typeof m === 'object' && m !== null)
  const endpoints = (body.NetworkingConfig?.EndpointsConfig ?? {}) as Record<string, Endpoint | null>

  // At every version, 0 and any negative PIDs limit mean no limit.
  if (typeof hc['PidsLimit'] === 'number' && hc['PidsLimit'] <= 0) hc['PidsLimit'] = null
  // Before 1.25 the client removed an --rm container itself.
  if (below('1.25')) hc['AutoRemove'] = false
  // Before 1.40 a container's IPC namespace was shareable unless it said otherwise.
  if (below('1.40') && !hc['IpcMode']) hc['IpcMode'] = 'shareable'
  // Before 1.41 a container shared the host's cgroup namespace unless it said otherwise (cgroup v2 hosts changed that).
  if (below('1.41') && !hc['CgroupnsMode']) hc['CgroupnsMode'] = 'host'
  if (below('1.42')) {
    delete hc['ConsoleSize']
    // Options for another mount type were ignored, not refused.
    for (const m of mounts) {
      if (m.VolumeOptions && m.Type !== 'volume') delete m.VolumeOptions
      if (m.TmpfsOptions && m.Type !== 'tmpfs') delete m.TmpfsOptions
      if (m.BindOptions && m.Type !== 'bind') delete m.BindOptions
      if (m.BindOptions) delete m.BindOptions['CreateMountpoint']
    }
  } else {
    for (const m of mounts) {
      for (const [field, type] of [['VolumeOptions', 'volume'], ['BindOptions', 'bind'], ['TmpfsOptions', 'tmpfs'], ['ImageOptions', 'image']] as const) {
        if (m[field] && m.Type !== type) throw invalid(`${field} must not be specified on mount type ${JSON.stringify(m.Type ?? '')}`)
      }
    }
  }
  if (below('1.43')) delete hc['Annotations']
  if (below('1.44')) {
    if (body.Healthcheck) delete body.Healthcheck.StartInterval
    for (const m of mounts) {
      if (!m.BindOptions) continue
      delete m.BindOptions['ReadOnlyNonRecursive']
      if (m.BindOptions['ReadOnlyForceRecursive']) throw invalid('BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer')
    }
    const networks = Object.keys(endpoints)
    if (networks.length > 1) throw invalid(`Container cannot be created with multiple network endpoints: ${networks.join(', ')}`)
  }
  if (below('1.45') && mounts.some((m) => m.VolumeOptions?.['Subpath'])) throw invalid('VolumeOptions.Subpath needs API v1.45 or newer')
  if (below('1.48')) {
    // An endpoint's gateway priority and image mounts came with 1.48.
    for (const ep of Object.values(endpoints)) if (ep) delete ep['GwPriority']
    if (mounts.some((m) => m.Type === 'image')) throw invalid('Mount type "Image" needs API v1.48 or newer')
  }
  return macAddressGate(body, hc, endpoints, below('1.44'))
}

/**
 * Before 1.44 the MAC address was the container's (`Config.MacAddress`), for its primary network, and an endpoint's
 * own was ignored; from 1.44 it is the endpoint's, and the container-wide field is moved there with a warning.
 */
function macAddressGate(body: ContainerCreateBody, hc: Record<string, unknown>, endpoints: Record<string, Endpoint | null>, old: boolean): string[] {
  const containerWide = (body as { MacAddress?: string }).MacAddress ?? ''
  const mode = (hc['NetworkMode'] as string | undefined) || 'default'
  const bridgeLike = !['host', 'none'].includes(mode) && !mode.startsWith('container:')
  if (old && !containerWide) {
    for (const ep of Object.values(endpoints)) if (ep) delete ep.MacAddress
    return []
  }
  if (!containerWide) return []
  if (old && !bridgeLike) throw invalid('conflicting options: mac-address and the network mode')
  if (bridgeLike) {
    const primary = mode === 'default' ? (endpoints['default'] ? 'default' : 'bridge') : mode
    const epConfigs = (body.NetworkingConfig ??= {}).EndpointsConfig ??= {}
    const ep = ((epConfigs as Record<string, Endpoint | null>)[primary] ??= {})
    if (!ep.MacAddress) ep.MacAddress = containerWide
    else if (ep.MacAddress !== containerWide) throw invalid('the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty')
  }
  if (old) return []
  delete (body as { MacAddress?: string }).MacAddress
  return ['The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig instead.']
}

/** A container's inspect as an older client knows it. */
export function applyInspectGates(view: ContainerInspect, version: string): ContainerInspect {
  // The image's manifest descriptor came with 1.48.
  if (compareVersions(version, '1.48') < 0) delete view.ImageManifestDescriptor
  if (compareVersions(version, '1.45') >= 0) return view
  // Before 1.45 the aliases of an endpoint on a user-defined network included the container's short ID and hostname.
  const networks = (view.NetworkSettings['Networks'] ?? {}) as Record<string, { Aliases?: string[] | null } | null>
  const extra = [view.Id.slice(0, 12), view.Config.Hostname].filter(Boolean)
  const withAliases = Object.fromEntries(
    Object.entries(networks).map(([name, ep]) => [name, !ep || ['bridge', 'host', 'none'].includes(name) ? ep : { ...ep, Aliases: [...new Set([...(ep.Aliases ?? []), ...extra])] }]),
  )
  return { ...view, NetworkSettings: { ...view.NetworkSettings, Networks: withAliases } }
}

/** A container update as an older client meant it. */
export function applyUpdateGates(body: Record<string, unknown>, version: string): void {
  // PidsLimit came to updates with API 1.40.
  if (compareVersions(version, '1.40') < 0) delete body['PidsLimit']
}
