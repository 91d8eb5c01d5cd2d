import type { BuildContext } from './context.ts'

/** What a build is asked to do (`POST /build`'s parameters, `cais build`'s flags), its context already on disk. */
export interface BuildRequest {
  id: string
  context: BuildContext
  tags: string[]
  /** `--build-arg`: a null value is a name given without one, which the client found unset. */
  buildArgs: Record<string, string | null>
  target: string | undefined
  noCache: boolean
  /** Stage names whose steps never come from the cache. */
  noCacheFilter: string[]
  pull: boolean
  labels: Record<string, string>
  /** Images whose history may stand in for steps (`--cache-from`). */
  cacheFrom: string[]
  platform: string | undefined
  networkMode: string | undefined
  shmSize: number | undefined
  extraHosts: string[]
  /** Keep the containers of successful steps (`rm=0`); failed steps' containers are always removed. */
  keepContainers: boolean
  /** `--secret id=…,src=…`: secret id → file on the daemon's host, for `RUN --mount=type=secret`. */
  secrets: Map<string, string>
  signal: AbortSignal
  /** A line of build output, Docker's JSON message (`{"stream": …}`, pull progress, `{"aux": …}`). */
  send: (message: Record<string, unknown>) => void
}

export interface BuildResult {
  imageId: string
  /** Tags given, as stored (`name:tag`, familiar form). */
  tags: string[]
}
