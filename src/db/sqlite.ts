/**
 * Opens a SQLite database file with the settings cryptorg relies on. SQLite-only SQL (pragmas)
 * is confined to this module.
 *
 * @module
 */
import { existsSync, statSync } from 'node:fs'
import { dirname } from 'node:path'

import SqliteDatabase from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'

import { CryptorgError } from '../errors.js'
import type { Database } from './schema.js'
import { storageError } from './storage-errors.js'

/** How long a writer waits for another process's lock before failing. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000

export interface OpenSqliteOptions {
  /** File path, or `:memory:` for a private in-memory database. */
  path: string
  /** @default DEFAULT_BUSY_TIMEOUT_MS */
  busyTimeoutMs?: number
}

export function openSqlite(options: OpenSqliteOptions): Kysely<Database> {
  const { path } = options
  const inMemory = path === ':memory:'
  if (!inMemory) assertParentDirectory(path)

  let connection: SqliteDatabase.Database
  try {
    connection = new SqliteDatabase(path)
    // WAL lets the daemon write while CLI readers keep reading; NORMAL sync is durable in WAL
    // mode except for the last transactions before a power cut.
    if (!inMemory) connection.pragma('journal_mode = WAL')
    connection.pragma(`busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`)
    connection.pragma('foreign_keys = ON')
    connection.pragma('synchronous = NORMAL')
  } catch (error) {
    throw storageError(`could not open database ${JSON.stringify(path)}`, error)
  }

  return new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) })
}

function assertParentDirectory(path: string): void {
  const directory = dirname(path)
  if (!existsSync(directory)) {
    throw new CryptorgError(
      'ERR_STORAGE',
      `database directory ${JSON.stringify(directory)} does not exist`,
      { details: { path } },
    )
  }
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new CryptorgError('ERR_STORAGE', `database path ${JSON.stringify(path)} is a directory`)
  }
}
