/** Splits `name[:tag|@digest]` as the docker CLI does before it calls the API (a registry port is not a tag). */
export function splitImageName(ref: string): { image: string; tag: string | undefined } {
  const at = ref.indexOf('@')
  if (at >= 0) return { image: ref.slice(0, at), tag: ref.slice(at + 1) }
  const colon = ref.lastIndexOf(':')
  if (colon > ref.lastIndexOf('/')) return { image: ref.slice(0, colon), tag: ref.slice(colon + 1) }
  return { image: ref, tag: undefined }
}
