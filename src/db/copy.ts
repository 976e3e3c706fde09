/**
 * Copies a whole installation from one database to another (SQLite to Postgres, Postgres to
 * SQLite, or either to itself elsewhere) with every row, id and timestamp as it was.
 *
 * The source is read inside one transaction, so the copy is a consistent snapshot (on SQLite
 * that transaction holds the write lock: writers wait until the copy ends). The destination is
 * written inside one transaction too, and its row counts are compared with the source's before
 * it commits: a copy that fails or does not add up leaves the destination as it was.
 *
 * @module
 */
import { realpathSync } from 'node:fs'

import { type Kysely, sql } from 'kysely'

import { CryptorgError } from '../errors.js'
import type { OpenedDatabase } from './connect.js'
import { assertCurrentSchema, migrateToLatest } from './migrate.js'

/** A table to copy, in an order that satisfies the foreign keys, with its key columns. */
interface CopiedTable {
  name: string
  key: readonly string[]
  /** Numbered by the database: its counter is moved past the copied ids. */
  generatedKey?: boolean
}

const TABLES: readonly CopiedTable[] = [
  { name: 'organizations', key: ['id'] },
  { name: 'users', key: ['id'] },
  { name: 'memberships', key: ['org_id', 'user_id'] },
  { name: 'auth_sessions', key: ['id'] },
  { name: 'tracked_coins', key: ['symbol'] },
  { name: 'settings', key: ['key'] },
  { name: 'audit_events', key: ['id'], generatedKey: true },
  { name: 'daemon_lease', key: ['name'] },
  { name: 'daemon_ticks', key: ['id'], generatedKey: true },
  { name: 'crypto_prices', key: ['id'], generatedKey: true },
]

/** Tables the migrations or `init` may have filled in a destination that is otherwise new. */
const REPLACEABLE = new Set(['tracked_coins', 'settings', 'daemon_lease'])

/** Rows per batch: under SQLite's and Postgres's limits on parameters per statement. */
export const DEFAULT_COPY_BATCH = 2000

export interface CopyProgress {
  table: string
  copied: number
  total: number
}

export interface CopyOptions {
  /** Rows read and written at a time. @default DEFAULT_COPY_BATCH */
  batchSize?: number
  /** Called after every batch, and once per table when it starts. */
  onProgress?: (progress: CopyProgress) => void
}

export interface CopyResult {
  tables: { table: string; source: number; destination: number }[]
  rows: number
}

/**
 * Copies every row of `from` into `to`. `from` must be migrated to this build's schema; `to`
 * is migrated here and must hold no data yet.
 *
 * @throws CryptorgError `ERR_CONFLICT` when the destination already holds data,
 *   `ERR_STORAGE` when the source is not current or the counts differ at the end.
 */
export async function copyInstallation(
  from: OpenedDatabase,
  to: OpenedDatabase,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const batchSize = options.batchSize ?? DEFAULT_COPY_BATCH
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 3000) {
    throw new CryptorgError('ERR_VALIDATION', 'batch size must be a whole number from 1 to 3000')
  }
  await assertCurrentSchema(from.db, from.dialect.name)
  if (from.dialect.name === to.dialect.name) {
    const [source, destination] = await Promise.all([identify(from), identify(to)])
    // Copying a database into itself would wait on its own write lock, then fail.
    if (source === destination) {
      throw new CryptorgError(
        'ERR_VALIDATION',
        'the source and the destination are the same database',
      )
    }
  }
  await migrateToLatest(to.db, to.dialect.name)

  // Kysely<any>: the copy moves rows table by table, whatever their typed shape.
  let reading = (from.db as Kysely<any>).transaction()
  // One snapshot for every batch: on Postgres, plain inserts are not held back by the write
  // lock, and read committed would let later batches see them.
  if (from.dialect.name === 'postgres') reading = reading.setIsolationLevel('repeatable read')
  return reading.execute(async (source) =>
    (to.db as Kysely<any>).transaction().execute(async (destination) => {
      await assertEmpty(destination, to.description)
      for (const table of REPLACEABLE) await destination.deleteFrom(table).execute()

      const tables: CopyResult['tables'] = []
      for (const table of TABLES) {
        const total = await countRows(source, table.name)
        options.onProgress?.({ table: table.name, copied: 0, total })
        await copyTable(source, destination, table, total, batchSize, options.onProgress)
        if (table.generatedKey && to.dialect.name === 'postgres') {
          await moveIdentityPast(destination, table.name)
        }
        tables.push({
          table: table.name,
          source: total,
          destination: await countRows(destination, table.name),
        })
      }
      const wrong = tables.filter((t) => t.source !== t.destination)
      if (wrong.length > 0) {
        const list = wrong.map((t) => `${t.table} ${t.source} -> ${t.destination}`).join(', ')
        throw new CryptorgError('ERR_STORAGE', `copy did not add up, nothing kept: ${list}`, {
          details: { tables },
        })
      }
      return { tables, rows: tables.reduce((sum, t) => sum + t.destination, 0) }
    }),
  )
}

async function copyTable(
  source: Kysely<any>,
  destination: Kysely<any>,
  table: CopiedTable,
  total: number,
  batchSize: number,
  onProgress: CopyOptions['onProgress'],
): Promise<void> {
  let copied = 0
  let after: unknown[] | undefined
  for (;;) {
    let query = source.selectFrom(table.name).selectAll()
    if (after) {
      const last = after
      query = query.where((eb) =>
        table.key.length === 1
          ? eb(eb.ref(table.key[0] as string), '>', last[0])
          : eb(
              eb.refTuple(...(table.key as [string, string])),
              '>',
              eb.tuple(...(last as [unknown, unknown])),
            ),
      )
    }
    const rows: Record<string, unknown>[] = await table.key
      .reduce((q, column) => q.orderBy(column), query)
      .limit(batchSize)
      .execute()
    if (rows.length === 0) return
    await destination.insertInto(table.name).values(rows).execute()
    copied += rows.length
    onProgress?.({ table: table.name, copied, total })
    const lastRow = rows[rows.length - 1] as Record<string, unknown>
    after = table.key.map((column) => lastRow[column])
    if (rows.length < batchSize) return
  }
}

async function assertEmpty(db: Kysely<any>, description: string): Promise<void> {
  for (const table of TABLES) {
    if (REPLACEABLE.has(table.name)) continue
    const row = await db
      .selectFrom(table.name)
      .select(sql<number>`1`.as('one'))
      .limit(1)
      .execute()
    if (row.length > 0) {
      throw new CryptorgError(
        'ERR_CONFLICT',
        `the destination ${description} already holds data (${table.name}); ` +
          'copy into a new, empty database',
      )
    }
  }
}

async function countRows(db: Kysely<any>, table: string): Promise<number> {
  const { count } = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .executeTakeFirstOrThrow()
  return Number(count)
}

/**
 * Postgres numbers generated ids from a sequence that copied rows did not advance: without
 * this, the next price added after the copy would collide with a copied id.
 */
async function moveIdentityPast(db: Kysely<any>, table: string): Promise<void> {
  await sql`
    select setval(
      pg_get_serial_sequence(${table}, 'id'),
      coalesce((select max(id) from ${sql.table(table)}), 1),
      (select max(id) from ${sql.table(table)}) is not null
    )
  `.execute(db)
}

/**
 * What tells two databases apart whatever the spelling of their locations: the file SQLite
 * has open, or Postgres's server (its start time), database and schema.
 */
async function identify(opened: OpenedDatabase): Promise<string> {
  if (opened.dialect.name === 'sqlite') {
    const { rows } = await sql<{ file: string }>`
      select file from pragma_database_list where name = 'main'
    `.execute(opened.db)
    const file = rows[0]?.file ?? ''
    // An in-memory database has no file: each one is its own.
    return file === '' ? `memory:${Math.random()}` : `sqlite:${realpathOrSelf(file)}`
  }
  const { rows } = await sql<{ id: string }>`
    select concat_ws('/', pg_postmaster_start_time()::text, current_database(), current_schema())
      as id
  `.execute(opened.db)
  return `postgres:${rows[0]?.id ?? ''}`
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}
