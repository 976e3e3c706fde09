/**
 * Opens a SQLite database file with the settings cryptorg relies on. SQLite-only SQL (pragmas)
 * is confined to this module.
 *
 * @module
 */
import { existsSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

import SqliteDatabase from 'better-sqlite3'
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  SqliteDialect,
  type SqliteDatabase as SqliteDatabaseLike,
} from 'kysely'

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
    const nativeBinding = compiledAddon()
    connection = new SqliteDatabase(path, nativeBinding === undefined ? {} : { nativeBinding })
    // WAL lets the daemon write while CLI readers keep reading; NORMAL sync is durable in WAL
    // mode except for the last transactions before a power cut.
    if (!inMemory) connection.pragma('journal_mode = WAL')
    connection.pragma(`busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`)
    connection.pragma('foreign_keys = ON')
    connection.pragma('synchronous = NORMAL')
  } catch (error) {
    throw storageError(`could not open database ${JSON.stringify(path)}`, error)
  }

  return new Kysely<Database>({
    dialect: new ImmediateSqliteDialect({ database: withStatementCache(connection) }),
  })
}

let addon: string | null | undefined

/**
 * better-sqlite3's compiled addon, named to it directly. Left to itself, it finds the file with
 * the `bindings` package, which tries folder after folder and throws at each miss: 1.6 ms of every
 * command's start-up, and no answer at all from inside the CLI's bundle, whose own folder is not
 * better-sqlite3's. Undefined (the package's own search) when the addon is in neither folder a
 * build puts it in.
 */
function compiledAddon(): string | undefined {
  if (addon === undefined) {
    addon = null
    try {
      const root = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'))
      for (const build of ['Release', 'Debug']) {
        const candidate = join(root, 'build', build, 'better_sqlite3.node')
        if (existsSync(candidate)) {
          addon = candidate
          break
        }
      }
    } catch {
      // Not resolvable from here: better-sqlite3 searches on its own.
    }
  }
  return addon ?? undefined
}

/** Distinct statements kept prepared; cryptorg's own queries number a few dozen. */
const STATEMENT_CACHE_SIZE = 200

/**
 * The connection as kysely sees it, with prepared statements kept by their SQL text. kysely
 * prepares a statement for every query it runs, and preparing costs more than running the
 * short indexed queries cryptorg makes (a third of `prices.latest`). better-sqlite3 runs each
 * statement to completion synchronously, so one statement object is never used twice at once.
 */
function withStatementCache(connection: SqliteDatabase.Database): SqliteDatabaseLike {
  const cache = new Map<string, SqliteDatabase.Statement>()
  return {
    close: () => connection.close(),
    prepare(sql: string) {
      let statement = cache.get(sql)
      if (statement) {
        // Most recently used last, so the first key is the one to evict.
        cache.delete(sql)
      } else {
        statement = connection.prepare(sql)
        if (cache.size >= STATEMENT_CACHE_SIZE) {
          const oldest = cache.keys().next().value
          if (oldest !== undefined) cache.delete(oldest)
        }
      }
      cache.set(sql, statement)
      return statement
    },
  }
}

/**
 * Starts every transaction with BEGIN IMMEDIATE. A plain BEGIN takes the write lock only at the
 * first write; if another process wrote in between, SQLite fails the upgrade at once with
 * "database is locked", without waiting for the busy timeout. Taking the lock up front makes
 * concurrent writers queue instead. cryptorg's transactions all write, so nothing is lost.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver()
    // An own property shadows the prototype's method; the driver's private state stays intact.
    driver.beginTransaction = async (connection: DatabaseConnection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'))
    }
    return driver
  }
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
