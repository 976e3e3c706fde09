/**
 * Reads a test database with a separate connection, to see what the library really wrote (or
 * did not write) without going through the code under test. On the Postgres project the
 * location's schema is read instead of the file (see helpers/backend.ts).
 *
 * @module
 */
import { existsSync } from 'node:fs'

import Database from 'better-sqlite3'

import { TEST_BACKEND, queryPostgres } from './backend.js'

/** Tables whose rows the tests compare before and after a refused operation. */
export const DATA_TABLES = [
  'organizations',
  'crypto_prices',
  'memberships',
  'users',
  'auth_sessions',
  'audit_events',
  'settings',
  'tracked_coins',
] as const

export type DataTable = (typeof DATA_TABLES)[number]

/** Runs one query (`?` placeholders) on a fresh read-only connection, closed before returning. */
export async function queryRows<T = Record<string, unknown>>(
  path: string,
  sql: string,
  ...params: unknown[]
): Promise<T[]> {
  if (TEST_BACKEND === 'postgres') {
    // A file the test never opened has no schema either: fail as SQLite would.
    if (!existsSync(path) && !(await schemaHasTables(path))) {
      throw new Error(`no database at ${path}`)
    }
    let index = 0
    return queryPostgres<T>(
      path,
      sql.replace(/\?/g, () => `$${++index}`),
      params,
    )
  }
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return db.prepare(sql).all(...params) as T[]
  } finally {
    db.close()
  }
}

async function schemaHasTables(path: string): Promise<boolean> {
  const rows = await queryPostgres<{ n: number }>(
    path,
    `select count(*)::int as n from pg_catalog.pg_tables where schemaname = current_schema()`,
  )
  return (rows[0]?.n ?? 0) > 0
}

/** Every row of every data table, in a stable order: equal dumps mean nothing was written. */
export async function dumpTables(path: string): Promise<Record<DataTable, unknown[]>> {
  const dump = {} as Record<DataTable, unknown[]>
  for (const table of DATA_TABLES) {
    dump[table] = await queryRows(path, `select * from ${table} order by 1, 2`)
  }
  return dump
}

/** Number of rows in each data table. */
export async function countRows(path: string): Promise<Record<DataTable, number>> {
  const dump = await dumpTables(path)
  return Object.fromEntries(DATA_TABLES.map((table) => [table, dump[table].length])) as Record<
    DataTable,
    number
  >
}

/**
 * Runs a statement that changes the database behind the library's back (to break it on
 * purpose), on whichever backend the test runs.
 */
export async function alterBehindTheBack(path: string, statement: string): Promise<void> {
  if (TEST_BACKEND === 'postgres') {
    await queryPostgres(path, statement)
    return
  }
  const db = new Database(path)
  try {
    db.exec(statement)
  } finally {
    db.close()
  }
}

/** What each backend says about a table that is gone. */
export const MISSING_TABLE = (table: string): RegExp =>
  // The quotes may come escaped, as in a JSON log line.
  new RegExp(`no such table: ${table}|relation \\\\?"${table}\\\\?" does not exist`)
