/**
 * How failures look over HTTP, in the shapes Django REST Framework clients expect: a `detail`
 * message with a short `code`, or, for an input field at fault, `{ "<field>": ["message"] }`.
 * The status always comes from the core's one table, {@link HTTP_STATUSES}.
 *
 * @module
 */
import { CryptorgError, type ErrorCode, HTTP_STATUSES } from '../errors.js'

/** The `code` DRF and SimpleJWT clients know, for each of our error codes. */
const CLIENT_CODES: Readonly<Record<ErrorCode, string>> = {
  ERR_USAGE: 'invalid',
  ERR_VALIDATION: 'invalid',
  ERR_NOT_FOUND: 'not_found',
  ERR_CONFLICT: 'conflict',
  // Clients refresh their access token when they see this code.
  ERR_UNAUTHENTICATED: 'token_not_valid',
  ERR_FORBIDDEN: 'permission_denied',
  ERR_UPSTREAM: 'upstream_error',
  ERR_RATE_LIMITED: 'upstream_rate_limited',
  ERR_THROTTLED: 'throttled',
  ERR_UNHEALTHY: 'unavailable',
  ERR_STORAGE: 'error',
  ERR_INTERNAL: 'error',
}

export interface Problem {
  status: number
  body: Record<string, unknown>
  headers: Record<string, string>
}

/** The answer for an error the core or a route raised on purpose. */
export function problemFor(error: CryptorgError): Problem {
  const status = HTTP_STATUSES[error.code]
  const headers: Record<string, string> = {}
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer realm="api"'
  const retryAfter = error.details['retryAfterSeconds']
  if (typeof retryAfter === 'number') headers['Retry-After'] = String(Math.ceil(retryAfter))
  if (status >= 500) {
    // Internals (file paths, SQL) stay in the log.
    return { status, headers, body: { detail: 'internal server error', code: 'error' } }
  }
  const fields = error.details['fields']
  if (status === 400 && typeof fields === 'object' && fields !== null) {
    // Several fields at fault at once, already in DRF's `{ "<field>": ["message"] }` shape.
    return { status, headers, body: { ...(fields as Record<string, string[]>) } }
  }
  const field = error.details['field']
  if (typeof field === 'string' && (status === 400 || status === 409)) {
    return { status, headers, body: { [field.replace(/ /g, '_')]: [error.message] } }
  }
  return { status, headers, body: { detail: error.message, code: clientCode(error) } }
}

function clientCode(error: CryptorgError): string {
  const reason = error.details['reason']
  if (reason === 'credentials') return 'authentication_failed'
  if (reason === 'missing') return 'not_authenticated'
  return CLIENT_CODES[error.code]
}

/** A problem of the HTTP layer itself (media type, size, method) with its own status. */
export function httpProblem(status: number, detail: string, code: string): CryptorgError {
  return new CryptorgError('ERR_VALIDATION', detail, { details: { httpStatus: status, code } })
}

/** Like {@link problemFor}, honouring the status of {@link httpProblem}s. */
export function answerFor(error: CryptorgError): Problem {
  const status = error.details['httpStatus']
  if (typeof status === 'number') {
    return {
      status,
      headers: {},
      body: { detail: error.message, code: String(error.details['code']) },
    }
  }
  return problemFor(error)
}
