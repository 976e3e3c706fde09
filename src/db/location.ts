/**
 * Where an installation's data lives, as the operator writes it: a SQLite file path (or a
 * `sqlite:` URL, or `:memory:`), or a `postgres://` URL. Parsing happens once, here, so every
 * caller agrees on which backend a string means and on how to show it without its password.
 *
 * @module
 */
import { validationError } from '../errors.js'

export type DatabaseLocation =
  | { readonly kind: 'sqlite'; readonly path: string }
  | {
      readonly kind: 'postgres'
      readonly url: string
      /** The URL with its password (and secret query parameters) replaced, for messages. */
      readonly display: string
    }

const POSTGRES_SCHEMES = ['postgres:', 'postgresql:']
/** Query parameters that carry secrets in libpq-style URLs. */
const SECRET_PARAMETERS = ['password', 'sslpassword']

/**
 * Parses a database location.
 *
 * @throws CryptorgError `ERR_VALIDATION` naming what is wrong with it.
 */
export function parseDatabaseLocation(input: unknown, field = 'database'): DatabaseLocation {
  if (typeof input !== 'string' || input.trim() === '') {
    throw validationError(field, `${field} must be a file path or a postgres:// URL`)
  }
  const value = input.trim()
  const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(value)?.[1]?.toLowerCase()
  if (scheme && POSTGRES_SCHEMES.includes(scheme)) return parsePostgres(value, field)
  if (scheme === 'sqlite:') {
    // sqlite:/abs/path, sqlite:relative/path and sqlite:///abs/path all name a file.
    const path = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
    if (path === '') throw validationError(field, `${field} "sqlite:" names no file`)
    return { kind: 'sqlite', path }
  }
  // A Windows drive letter or a plain path: anything else with a scheme is a mistake.
  if (scheme && scheme.length > 2 && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw validationError(
      field,
      `${field} URL scheme ${JSON.stringify(scheme.slice(0, -1))} is not supported ` +
        '(use a file path, sqlite: or postgres://)',
    )
  }
  return { kind: 'sqlite', path: value }
}

function parsePostgres(value: string, field: string): DatabaseLocation {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    // The input may hold a password: name the mistake, not the value.
    throw validationError(field, `${field} is not a valid postgres:// URL`)
  }
  if (url.hostname === '' && !url.searchParams.has('host')) {
    throw validationError(field, `${field} postgres:// URL names no host`)
  }
  if (url.pathname === '' || url.pathname === '/') {
    throw validationError(field, `${field} postgres:// URL names no database (add /NAME)`)
  }
  return { kind: 'postgres', url: value, display: redactUrl(url) }
}

/** The URL with its password and secret parameters masked. */
function redactUrl(url: URL): string {
  const copy = new URL(url.href)
  if (copy.password !== '') copy.password = '***'
  for (const name of SECRET_PARAMETERS) {
    if (copy.searchParams.has(name)) copy.searchParams.set(name, '***')
  }
  return copy.href
}

/** How to name a location in messages and `--json` output: never with its password. */
export function describeLocation(location: DatabaseLocation): string {
  return location.kind === 'sqlite' ? location.path : location.display
}

/** True when `input` names a Postgres database (without validating it further). */
export function isPostgresUrl(input: string): boolean {
  return /^postgres(ql)?:\/\//i.test(input.trim())
}

/** True when two locations name the same database (same file, or same server and name). */
export function sameLocation(a: DatabaseLocation, b: DatabaseLocation): boolean {
  if (a.kind === 'sqlite' && b.kind === 'sqlite') return a.path === b.path
  if (a.kind === 'postgres' && b.kind === 'postgres') {
    const [left, right] = [new URL(a.url), new URL(b.url)]
    return (
      left.hostname === right.hostname &&
      (left.port || '5432') === (right.port || '5432') &&
      left.pathname === right.pathname &&
      left.searchParams.get('options') === right.searchParams.get('options')
    )
  }
  return false
}
