// The distribution spec's error codes and their wire form, `{"errors":[{code,message,detail}]}`: one definition
// for the registry server (src/registry) that answers with them and the client (client.ts) that reads them.

/** Each code with the status a registry answers it with. */
export const distributionErrors = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  RANGE_INVALID: 416,
} as const

/** A spec code, or `UNKNOWN` for what it does not name (a server's internal error). */
export type DistributionErrorCode = keyof typeof distributionErrors | 'UNKNOWN'

export interface DistributionErrorEntry {
  code: string
  message: string
  detail?: unknown
}

export function encodeErrors(...errors: DistributionErrorEntry[]): string {
  return JSON.stringify({ errors: errors.map((e) => ({ code: e.code, message: e.message, detail: e.detail ?? null })) })
}

/** The entries of an error body; none when it is not one (a proxy's HTML page, an empty body). */
export function decodeErrors(body: Buffer | string): DistributionErrorEntry[] {
  try {
    const json = JSON.parse(body.toString()) as { errors?: unknown }
    if (!Array.isArray(json.errors)) return []
    return json.errors.map((e: { code?: unknown; message?: unknown; detail?: unknown }) => ({ code: typeof e.code === 'string' ? e.code : 'UNKNOWN', message: typeof e.message === 'string' ? e.message : '', detail: e.detail }))
  } catch {
    return []
  }
}

/** An entry as Docker's client words it: the code in lower-case words, then the message (`blob unknown: …`). */
export const describeError = (e: DistributionErrorEntry): string => `${e.code.toLowerCase().replace(/_/g, ' ')}: ${e.message}`
