/** A volume's record, beside its data in `<root>/volumes/<name>/_data`. */
export interface VolumeRecord {
  name: string
  driver: 'local'
  createdAt: string
  labels: Record<string, string>
  /** local driver options: type, device, o (passed to mount(8) as Docker does). */
  options: Record<string, string>
  /** Created without a name (by `-v /path` or an image VOLUME): pruned by default, removed with its container. */
  anonymous: boolean
}

export type { VolumeView } from '../wire/types.ts'
