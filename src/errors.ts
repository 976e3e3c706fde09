/**
 * Every failure cryptorg reports on purpose is a {@link CryptorgError} with a stable `code`.
 * Front ends never inspect messages: the CLI picks its exit code and the REST API its HTTP
 * status from the tables below, so both always agree.
 *
 * @module
 */

/**
 * The stable error codes. Once released a code never changes meaning, so callers may `switch`
 * on it.
 */
export type ErrorCode =
  | 'ERR_USAGE'
  | 'ERR_VALIDATION'
  | 'ERR_NOT_FOUND'
  | 'ERR_CONFLICT'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_FORBIDDEN'
  | 'ERR_UPSTREAM'
  | 'ERR_RATE_LIMITED'
  | 'ERR_THROTTLED'
  | 'ERR_UNHEALTHY'
  | 'ERR_STORAGE'
  | 'ERR_INTERNAL'

/** Process exit code for each error code (0 is success, 130 an interrupt). */
export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = Object.freeze({
  ERR_USAGE: 2,
  ERR_VALIDATION: 2,
  ERR_NOT_FOUND: 3,
  ERR_CONFLICT: 3,
  // Who you are (not signed in, bad or expired token) or what you may do.
  ERR_UNAUTHENTICATED: 4,
  ERR_FORBIDDEN: 4,
  ERR_UPSTREAM: 5,
  ERR_RATE_LIMITED: 5,
  // Too many attempts from this caller (failed sign-ins): wait and try again.
  ERR_THROTTLED: 4,
  // A health check that fails, distinct from every other failure so monitors can tell.
  ERR_UNHEALTHY: 6,
  ERR_STORAGE: 1,
  ERR_INTERNAL: 1,
})

/** HTTP status for each error code. */
export const HTTP_STATUSES: Readonly<Record<ErrorCode, number>> = Object.freeze({
  ERR_USAGE: 400,
  ERR_VALIDATION: 400,
  ERR_NOT_FOUND: 404,
  ERR_CONFLICT: 409,
  ERR_UNAUTHENTICATED: 401,
  ERR_FORBIDDEN: 403,
  ERR_UPSTREAM: 502,
  ERR_RATE_LIMITED: 503,
  ERR_THROTTLED: 429,
  ERR_UNHEALTHY: 503,
  ERR_STORAGE: 500,
  ERR_INTERNAL: 500,
})

/** Options for {@link CryptorgError}. */
export interface CryptorgErrorOptions {
  /** The underlying error, kept for `--verbose` output and debugging. */
  cause?: unknown
  /** Machine-readable facts about the failure, such as the field at fault or a retry delay. */
  details?: Readonly<Record<string, unknown>>
}

/**
 * The one error class of cryptorg. `message` is a single sentence without a trailing period
 * that names the value at fault and never contains a secret.
 *
 * @example
 * ```ts
 * try {
 *   await c.orgs.get('acme')
 * } catch (error) {
 *   if (isCryptorgError(error) && error.code === 'ERR_NOT_FOUND') console.log('no such org')
 * }
 * ```
 */
export class CryptorgError extends Error {
  override readonly name = 'CryptorgError'
  readonly code: ErrorCode
  readonly details: Readonly<Record<string, unknown>>

  constructor(code: ErrorCode, message: string, options: CryptorgErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = Object.freeze({ ...options.details })
  }
}

/** True for a {@link CryptorgError}, even one created by another copy of the library. */
export function isCryptorgError(value: unknown): value is CryptorgError {
  return (
    value instanceof CryptorgError ||
    (value instanceof Error &&
      value.name === 'CryptorgError' &&
      typeof (value as { code?: unknown }).code === 'string')
  )
}

/** Shorthand for the most common failure: input that breaks a rule. */
export function validationError(
  field: string,
  message: string,
  details: Record<string, unknown> = {},
): CryptorgError {
  return new CryptorgError('ERR_VALIDATION', message, { details: { field, ...details } })
}

/**
 * Turns anything thrown into a {@link CryptorgError}: ours pass through, anything else is a bug
 * and becomes `ERR_INTERNAL` with the original kept as `cause`.
 */
export function toCryptorgError(error: unknown): CryptorgError {
  if (isCryptorgError(error)) return error
  const text = error instanceof Error ? error.message : String(error)
  return new CryptorgError('ERR_INTERNAL', `unexpected error: ${text}`, { cause: error })
}
