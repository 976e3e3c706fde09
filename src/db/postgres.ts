/**
 * Opens a PostgreSQL database through `pg` with the settings cryptorg relies on.
 * Postgres-only concerns (the pool, type parsers, the write lock) are confined to this module.
 *
 * @module
 */
import type { ConnectionOptions } from 'node:tls'

import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresDialect,
  type TransactionSettings,
} from 'kysely'
import { createRequire } from 'node:module'

import type Pg from 'pg'

import type { Logger } from '../deps.js'
import { validationError } from '../errors.js'
import type { Database } from './schema.js'

/** Connections kept by one process. A CLI command uses one; `serve` uses several. */
export const DEFAULT_POOL_SIZE = 10
/** A statement running longer than this is cancelled by the server. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000
/** The longest statement or connect timeout accepted: a day. */
export const MAX_TIMEOUT_MS = 86_400_000
/** How long to wait for a connection (to a server that is down, or a full pool). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

export interface PostgresOptions {
  /** Connections in the pool. @default DEFAULT_POOL_SIZE */
  poolSize?: number
  /** @default DEFAULT_STATEMENT_TIMEOUT_MS; 0 turns the timeout off */
  statementTimeoutMs?: number
  /** @default DEFAULT_CONNECT_TIMEOUT_MS */
  connectTimeoutMs?: number
  /**
   * TLS settings for a managed database, passed to `pg` as they are (a `sslmode` or
   * `sslrootcert` in the URL works as well).
   */
  ssl?: boolean | ConnectionOptions
}

// Type ids from Postgres's catalog (pg_type.oid), fixed since forever.
const INT8_OID = 20
const TIMESTAMPTZ_OID = 1184

let driver: typeof Pg | undefined

/**
 * `pg`, loaded on first use: a SQLite installation, and every CLI start-up, never pays for
 * compiling it. It is CommonJS, so require() loads it synchronously, and the CLI bundle leaves
 * it in node_modules.
 */
function loadPg(): typeof Pg {
  driver ??= createRequire(import.meta.url)('pg') as typeof Pg
  return driver
}

/**
 * How values come back: the same JavaScript values as from SQLite. Counts and generated ids
 * (int8) as numbers, which they fit in; timestamps as the ISO-8601 strings SQLite stores;
 * numeric stays the exact decimal string `pg` gives by default, so no price meets a float.
 */
export const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (text: string) => Number(text)
    if (oid === TIMESTAMPTZ_OID) {
      const defaultTimestampParser = loadPg().types.getTypeParser(TIMESTAMPTZ_OID, 'text')
      return (text: string) => {
        const parsed = defaultTimestampParser(text) as unknown
        return parsed instanceof Date ? parsed.toISOString() : parsed
      }
    }
    return loadPg().types.getTypeParser(oid, format ?? 'text')
  },
}

export function openPostgres(
  url: string,
  options: PostgresOptions = {},
  logger?: Logger,
): Kysely<Database> {
  checkPostgresOptions(options)
  const pool = new (loadPg().Pool)({
    connectionString: url,
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
    statement_timeout: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    connectionTimeoutMillis:
      options.connectTimeoutMs ?? urlConnectTimeoutMs(url) ?? DEFAULT_CONNECT_TIMEOUT_MS,
    application_name: 'cryptorg',
    types: typeParsers,
    ...(options.ssl !== undefined && { ssl: options.ssl }),
  })
  // An idle connection that the server drops (restart, failover) is reported here; without a
  // listener the process would crash. The pool replaces it on the next query.
  pool.on('error', (error: Error & { code?: string }) => {
    logger?.warn('database connection lost', { code: error.code, reason: error.message })
  })
  return new Kysely<Database>({ dialect: new LockingPostgresDialect({ pool }) })
}

/**
 * Serializes write transactions per installation, as SQLite's BEGIN IMMEDIATE does on one
 * machine: each transaction first takes a transaction-scoped advisory lock named after the
 * schema. The services' read-check-write steps (the last owner of an organization, refresh
 * token rotation, the daemon's lease fence) were written for that guarantee, and keep it across
 * hosts. Statements outside transactions (adding a price, reads) are not serialized.
 */
class LockingPostgresDialect extends PostgresDialect {
  override createDriver(): Driver {
    const driver = super.createDriver()
    const begin = driver.beginTransaction.bind(driver)
    driver.beginTransaction = async (
      connection: DatabaseConnection,
      settings: TransactionSettings,
    ) => {
      await begin(connection, settings)
      await connection.executeQuery(CompiledQuery.raw(WRITE_LOCK_SQL))
    }
    return driver
  }
}

export const WRITE_LOCK_SQL =
  "select pg_advisory_xact_lock(hashtext('cryptorg:' || current_schema()))"

/**
 * libpq's `connect_timeout` (seconds) in the URL, which `pg` reads but does not act on. Zero
 * means no limit there, as here.
 */
function urlConnectTimeoutMs(url: string): number | undefined {
  const text = new URL(url).searchParams.get('connect_timeout')
  if (text === null || !/^\d{1,6}$/.test(text.trim())) return undefined
  return Number(text.trim()) * 1000
}

/** Checks the options a caller gives, naming the one that is wrong. */
export function checkPostgresOptions(
  options: PostgresOptions | undefined,
): PostgresOptions | undefined {
  if (options === undefined) return undefined
  if (typeof options !== 'object' || options === null) {
    throw validationError('postgres', 'postgres options must be an object')
  }
  const { poolSize, statementTimeoutMs, connectTimeoutMs } = options
  if (
    poolSize !== undefined &&
    !(Number.isInteger(poolSize) && poolSize >= 1 && poolSize <= 1000)
  ) {
    throw validationError(
      'postgres.poolSize',
      'postgres pool size must be a whole number from 1 to 1000',
    )
  }
  for (const [field, value] of [
    ['statementTimeoutMs', statementTimeoutMs],
    ['connectTimeoutMs', connectTimeoutMs],
  ] as const) {
    if (
      value !== undefined &&
      !(Number.isInteger(value) && value >= 0 && value <= MAX_TIMEOUT_MS)
    ) {
      throw validationError(
        `postgres.${field}`,
        `postgres ${field} must be whole milliseconds from 0 to ${MAX_TIMEOUT_MS}`,
      )
    }
  }
  return options
}
