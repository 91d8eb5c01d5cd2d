import { type DistributionErrorCode, distributionErrors } from '../distribution/errors.ts'

/** An error a registry answers with `{"errors":[{code,message,detail}]}` (codes: src/distribution/errors.ts). */
export class RegistryError extends Error {
  readonly code: DistributionErrorCode
  readonly status: number
  readonly detail: unknown
  constructor(code: Exclude<DistributionErrorCode, 'UNKNOWN'>, message: string, detail?: unknown, status?: number) {
    super(message)
    this.code = code
    this.status = status ?? distributionErrors[code]
    this.detail = detail
  }
}
