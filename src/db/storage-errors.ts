/**
 * Database failures reach callers as `ERR_STORAGE`, whichever service or query met them.
 * Services are wrapped once, in open(), instead of each query catching driver errors itself.
 *
 * @module
 */
import { CryptorgError, isCryptorgError } from '../errors.js'

/** Wraps a driver error as `ERR_STORAGE`, keeping the driver's short explanation. */
export function storageError(context: string, error: unknown): CryptorgError {
  return new CryptorgError('ERR_STORAGE', `${context}: ${explain(error)}`, { cause: error })
}

/** The driver's words, or ours where its are about its insides rather than the fix. */
function explain(error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error)
  if (/client password must be a string/.test(reason)) {
    return 'the server asks for a password and none was given (put it in the URL or PGPASSWORD)'
  }
  return reason
}

/** True for an error raised by the database driver rather than by our own code. */
export function isDriverError(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const { code, severity, syscall } = error as {
    code?: unknown
    severity?: unknown
    syscall?: unknown
  }
  if (error.name === 'SqliteError' || (typeof code === 'string' && code.startsWith('SQLITE_'))) {
    return true
  }
  // A Postgres server's answer carries a five-character SQLSTATE and a severity.
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string') {
    return true
  }
  // Reaching the server failed (refused, unknown host, reset), or the pool gave up waiting.
  if (typeof syscall === 'string' && typeof code === 'string') return true
  // TLS refused the server's certificate or the handshake.
  if (typeof code === 'string' && /CERT|SSL|TLS/.test(code)) return true
  return POOL_FAILURES.some((pattern) => pattern.test(error.message))
}

/** What `pg` and its pool say, without a code, when a connection fails or drops. */
const POOL_FAILURES = [
  /^timeout exceeded when trying to connect$/,
  /^Connection terminated/,
  /^Client has encountered a connection error/,
  // Signing in: SCRAM steps (such as no password given) and TLS asked of a server without it.
  /^SASL: /,
  /does not support SSL connections/,
  /self[- ]signed certificate/,
]

type AnyFunction = (...args: never[]) => unknown

/**
 * Returns a copy of `service` whose methods refuse to run once the database is closed and
 * report driver errors as `ERR_STORAGE`. Other errors pass through unchanged: a bug stays a bug.
 */
export function guardStorage<T extends object>(
  service: T,
  isClosed: () => boolean = () => false,
): T {
  const guarded: Record<string, unknown> = {}
  for (const [name, member] of Object.entries(service)) {
    if (typeof member !== 'function') {
      guarded[name] = member
      continue
    }
    guarded[name] = async (...args: unknown[]) => {
      if (isClosed()) throw new CryptorgError('ERR_STORAGE', 'the database is closed')
      try {
        return await (member as AnyFunction)(...(args as never[]))
      } catch (error) {
        if (isCryptorgError(error) || !isDriverError(error)) throw error
        throw storageError('database error', error)
      }
    }
  }
  return Object.freeze(guarded) as T
}

/** Runs `work`, reporting a driver error as `ERR_STORAGE` with `context` in front. */
export async function withStorageErrors<T>(context: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (isCryptorgError(error) || !isDriverError(error)) throw error
    throw storageError(context, error)
  }
}
