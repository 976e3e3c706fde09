/**
 * Reads a database file with a separate read-only connection, to see what the library really
 * wrote (or did not write) without going through the code under test.
 *
 * @module
 */
import Database from 'better-sqlite3'

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

/** Runs one query on a fresh read-only connection, closed before returning. */
export function queryRows<T = Record<string, unknown>>(
  path: string,
  sql: string,
  ...params: unknown[]
): T[] {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare(sql).all(...params) as T[]
  } finally {
    db.close()
  }
}

/** Every row of every data table, in a stable order: equal dumps mean nothing was written. */
export function dumpTables(path: string): Record<DataTable, unknown[]> {
  const db = new Database(path, { readonly: true })
  try {
    const dump = {} as Record<DataTable, unknown[]>
    for (const table of DATA_TABLES) {
      dump[table] = db.prepare(`select * from ${table} order by 1, 2`).all()
    }
    return dump
  } finally {
    db.close()
  }
}

/** Number of rows in each data table. */
export function countRows(path: string): Record<DataTable, number> {
  const dump = dumpTables(path)
  return Object.fromEntries(DATA_TABLES.map((table) => [table, dump[table].length])) as Record<
    DataTable,
    number
  >
}
