import { join } from 'node:path'

/** Every path caisd uses, derived from --root (persistent) and --exec-root (runtime state, lost on reboot). */
export interface Paths {
  root: string
  execRoot: string
  pidFile: string
  blobs: string
  ingest: string
  layers: string
  snapshots: string
  images: string
  references: string
  containers: string
  volumes: string
  blobSources: string
  containerRuntime: string
  exits: string
  crunRoot: string
  /** The builder's cache index, cache mounts and build scratch space. */
  build: string
}

export function pathsFor(root: string, execRoot: string): Paths {
  return {
    root,
    execRoot,
    pidFile: join(root, 'caisd.pid'),
    blobs: join(root, 'content', 'blobs', 'sha256'),
    ingest: join(root, 'content', 'ingest'),
    layers: join(root, 'layers'),
    snapshots: join(root, 'snapshots'),
    images: join(root, 'images'),
    references: join(root, 'images', 'repositories.json'),
    containers: join(root, 'containers'),
    volumes: join(root, 'volumes'),
    blobSources: join(root, 'distribution', 'blob-sources.json'),
    containerRuntime: join(execRoot, 'containers'),
    exits: join(execRoot, 'exits'),
    crunRoot: join(execRoot, 'crun'),
    build: join(root, 'build'),
  }
}
