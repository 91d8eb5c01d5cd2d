/** The distribution spec's error codes, with the status each is answered with. */
export const registryErrors = {
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

export type RegistryErrorCode = keyof typeof registryErrors

/** An error a registry answers with `{"errors":[{code,message,detail}]}`. */
export class RegistryError extends Error {
  readonly code: RegistryErrorCode
  readonly status: number
  readonly detail: unknown
  constructor(code: RegistryErrorCode, message: string, detail?: unknown, status?: number) {
    super(message)
    this.code = code
    this.status = status ?? registryErrors[code]
    this.detail = detail
  }
}
