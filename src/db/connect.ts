/**
 * Opens the database a location names, on the backend it names, and brings its schema up to
 * date. The one place that chooses between SQLite and Postgres.
 *
 * @module
 */
import { existsSync } from 'node:fs'

import type { Kysely } from 'kysely'

import type { Logger } from '../deps.js'
import { type Dialect, dialectFor } from './dialect.js'
import { type DatabaseLocation, describeLocation } from './location.js'
import { migrateToLatest } from './migrate.js'
import { type PostgresOptions, openPostgres } from './postgres.js'
import type { Database } from './schema.js'
import { openSqlite } from './sqlite.js'
import { storageError } from './storage-errors.js'
import { CryptorgError, isCryptorgError } from '../errors.js'

export interface OpenedDatabase {
  readonly db: Kysely<Database>
  readonly dialect: Dialect
  /** The location as it may be shown: a path, or a URL without its password. */
  readonly description: string
}

export interface ConnectOptions {
  postgres?: PostgresOptions
  logger?: Logger
  /** Apply pending migrations (the default) or leave the schema as it is. */
  migrate?: boolean
  /** Refuse a SQLite file that does not exist yet instead of creating it. */
  mustExist?: boolean
}

/** Opens without migrating; the caller checks or migrates the schema itself. */
export function connect(location: DatabaseLocation, options: ConnectOptions = {}): OpenedDatabase {
  const description = describeLocation(location)
  if (location.kind === 'sqlite') {
    if (options.mustExist && location.path !== ':memory:' && !existsSync(location.path)) {
      throw new CryptorgError('ERR_NOT_FOUND', `no database at ${location.path}`)
    }
    return { db: openSqlite({ path: location.path }), dialect: dialectFor('sqlite'), description }
  }
  const db = openPostgres(location.url, options.postgres, options.logger)
  return { db, dialect: dialectFor('postgres'), description }
}

/**
 * Opens and migrates. A Postgres server that cannot be reached fails here, at the first query,
 * with a message that names the server but not the password.
 */
export async function openDatabase(
  location: DatabaseLocation,
  options: ConnectOptions = {},
): Promise<OpenedDatabase> {
  const opened = connect(location, options)
  try {
    if (options.migrate !== false) await migrateToLatest(opened.db, opened.dialect.name)
  } catch (error) {
    await opened.db.destroy().catch(() => undefined)
    if (isCryptorgError(error)) throw error
    throw storageError(`could not open database ${opened.description}`, error)
  }
  return opened
}
