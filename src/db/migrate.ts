/**
 * Schema migrations: which are applied, which are pending, and applying them.
 *
 * A small migrator of our own rather than kysely's: it reads one table on the common path (the
 * schema is current, nothing to write), and on Postgres it never introspects the whole
 * catalogue, which kysely's does on every call and which grows with every schema in the
 * database. The bookkeeping table keeps the layout kysely gave it, so installations made by
 * earlier versions open unchanged.
 *
 * @module
 */
import { type Kysely, sql } from 'kysely'

import { CryptorgError } from '../errors.js'
import { type DialectName, listTables } from './dialect.js'
import { migrationsFor } from './migrations/index.js'

/** Table in which applied migrations are recorded. */
export const MIGRATION_TABLE = 'cryptorg_migrations'

/** One known migration and when it was applied to this database, if it was. */
export interface MigrationState {
  name: string
  /** ISO-8601 time of application; null while pending. */
  applied_at: string | null
}

/** Where a database's schema stands against this build. */
export interface SchemaStatus {
  migrations: MigrationState[]
  pending: string[]
  /** Applied migrations this build does not know: the database was made by a newer cryptorg. */
  unknown: string[]
  /** True when the database holds other tables but no cryptorg bookkeeping. */
  foreign: boolean
}

/**
 * Applies every pending migration, in order, in one transaction, and returns their names.
 * Migrations are forward-only: a database that has a migration this build does not know was
 * written by a newer cryptorg, and is refused rather than touched.
 */
// Kysely<any>: migrations describe past schemas, so they must not be typed by the current one.
export async function migrateToLatest(db: Kysely<any>, dialect: DialectName): Promise<string[]> {
  const before = await readMigratableStatus(db, dialect)
  if (before.pending.length === 0) return []

  const migrations = migrationsFor(dialect)
  // The write lock of the transaction (BEGIN IMMEDIATE, or the advisory lock on Postgres)
  // makes concurrent openers queue: the first applies, the others find nothing pending.
  return db.transaction().execute(async (trx) => {
    await ensureMigrationTable(trx)
    const now = await schemaStatus(trx, dialect)
    assertMigratable(now)
    for (const name of now.pending) {
      const migration = migrations[name]
      if (!migration) continue
      try {
        await migration.up(trx)
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error)
        throw new CryptorgError(
          'ERR_STORAGE',
          `could not migrate the database (${name}): ${reason}`,
          { cause: error },
        )
      }
      await trx
        .insertInto(MIGRATION_TABLE)
        .values({ name, timestamp: new Date().toISOString() })
        .execute()
    }
    return now.pending
  })
}

/** Reads where the schema stands, writing nothing. */
export async function schemaStatus(db: Kysely<any>, dialect: DialectName): Promise<SchemaStatus> {
  const known = Object.keys(migrationsFor(dialect)).sort()
  const tables = await listTables(db, dialect)
  const tracked = tables.includes(MIGRATION_TABLE)
  const rows: { name: string; timestamp: string }[] = tracked
    ? await db.selectFrom(MIGRATION_TABLE).select(['name', 'timestamp']).execute()
    : []
  const appliedAt = new Map(rows.map((row) => [row.name, row.timestamp]))
  return {
    migrations: known.map((name) => ({ name, applied_at: appliedAt.get(name) ?? null })),
    pending: known.filter((name) => !appliedAt.has(name)),
    unknown: rows.map((row) => row.name).filter((name) => !known.includes(name)),
    foreign: !tracked && tables.length > 0,
  }
}

/**
 * Where the schema stands, refusing what {@link migrateToLatest} would refuse: another
 * program's tables, a newer cryptorg's migrations, or (with migrations pending on Postgres) a
 * search_path naming no schema to create them in. `db status` shows the same refusals.
 */
export async function readMigratableStatus(
  db: Kysely<any>,
  dialect: DialectName,
): Promise<SchemaStatus> {
  const status = await schemaStatus(db, dialect)
  assertMigratable(status)
  if (status.pending.length > 0 && dialect === 'postgres') await assertSchemaSelected(db)
  return status
}

function assertMigratable(status: SchemaStatus): void {
  if (status.foreign) {
    // Adding our tables to another program's database would mix two programs' data.
    throw new CryptorgError(
      'ERR_STORAGE',
      'the database holds tables of another application (no cryptorg_migrations table); ' +
        'choose another database',
    )
  }
  if (status.unknown.length > 0) {
    throw new CryptorgError(
      'ERR_STORAGE',
      'database was created by a newer version of cryptorg; upgrade cryptorg to open it',
      { details: { unknown_migrations: status.unknown } },
    )
  }
}

async function ensureMigrationTable(db: Kysely<any>): Promise<void> {
  // The column types kysely's migrator used, so that both read the same table.
  await db.schema
    .createTable(MIGRATION_TABLE)
    .ifNotExists()
    .addColumn('name', 'varchar(255)', (col) => col.notNull().primaryKey())
    .addColumn('timestamp', 'varchar(255)', (col) => col.notNull())
    .execute()
}

/** Refuses to go on unless the schema is exactly what this build expects. */
export async function assertCurrentSchema(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const status = await schemaStatus(db, dialect)
  assertMigratable(status)
  if (status.pending.length > 0) {
    throw new CryptorgError(
      'ERR_STORAGE',
      `the database needs migrating first (${status.pending.join(', ')} pending): ` +
        'run "cryptorg db migrate" on it',
    )
  }
}

/**
 * On Postgres the tables go to the first schema of the search_path that exists. When none
 * does, say so, rather than Postgres's "no schema has been selected to create in".
 */
async function assertSchemaSelected(db: Kysely<any>): Promise<void> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(
    db,
  )
  if (rows[0]?.schema) return
  throw new CryptorgError(
    'ERR_STORAGE',
    'the connection has no current schema: its search_path names no schema that exists ' +
      '(create the schema, or fix search_path in the URL options)',
  )
}
