import type { EngineClient } from '../client/engine-client.ts'
import { HttpError } from './http-util.ts'

/** Where the reading container has the volume. */
const mountPoint = '/.cais-volume'
/** Marks the short-lived containers that read volumes for the dashboard. */
export const volumeReaderLabel = 'io.cais.dashboard.volume-reader'

/**
 * Reads a volume through the API alone, so any engine serves it: a container that is created but never started
 * mounts the volume read-only, without copy-up, and the archive API reads it as it reads a stopped container's
 * files; the container goes when the read is done, whatever happened. `fn` gets the container and the path of
 * the volume's `path` in it.
 */
export async function withVolumeReader<T>(client: EngineClient, volume: string, path: string, fn: (container: string, inContainer: string) => Promise<T>): Promise<T> {
  await client.volumes.inspect(volume)
  const image = await readerImage(client, volume)
  const { Id } = await client.containers.create({
    Image: image,
    Cmd: ['true'],
    Labels: { [volumeReaderLabel]: volume },
    HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: volume, Target: mountPoint, ReadOnly: true, VolumeOptions: { NoCopy: true } }] },
  })
  try {
    return await fn(Id, path === '/' ? mountPoint : `${mountPoint}${path}`)
  } finally {
    await client.containers.remove(Id, { force: true }).catch(() => {})
  }
}

/** An image here to make the reader from: one a container using the volume runs, or else any. */
async function readerImage(client: EngineClient, volume: string): Promise<string> {
  const users = await client.containers.list({ all: true, filters: { volume: [volume] } })
  const used = users.find((c) => c.ImageID)
  if (used) return used.ImageID
  const [any] = await client.images.list()
  if (!any) throw new HttpError(409, 'there is no image on this engine to read the volume with: pull or load one first')
  return any.Id
}
