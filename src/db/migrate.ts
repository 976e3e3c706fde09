import { type Kysely, type MigrationProvider, Migrator } from 'kysely'

import { CryptorgError } from '../errors.js'
import type { DialectName } from './dialect.js'
import { migrationsFor } from './migrations/index.js'

/** Table in which applied migrations are recorded. */
export const MIGRATION_TABLE = 'cryptorg_migrations'

/**
 * Applies every pending migration, in order, each in its own transaction. Migrations are
 * forward-only: a database that has a migration this build does not know was written by a newer
 * cryptorg, and is refused rather than touched.
 */
// Kysely<any>: migrations describe past schemas, so they must not be typed by the current one.
export async function migrateToLatest(db: Kysely<any>, dialect: DialectName): Promise<string[]> {
  const migrations = migrationsFor(dialect)
  if (await isCurrent(db, Object.keys(migrations))) return []
  await assertOwnDatabase(db)
  const provider: MigrationProvider = { getMigrations: async () => migrations }
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: `${MIGRATION_TABLE}_lock`,
  })

  const { error, results = [] } = await migrator.migrateToLatest()
  if (error) {
    const reason = error instanceof Error ? error.message : String(error)
    const newer = /corrupted migrations/i.test(reason)
    const message = newer
      ? 'database was created by a newer version of cryptorg; upgrade cryptorg to open it'
      : `could not migrate the database: ${reason}`
    throw new CryptorgError('ERR_STORAGE', message, { cause: error })
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/**
 * True when the database records exactly the migrations this build knows. Opening a current
 * database is the common case (every CLI command opens one), and this single read replaces the
 * schema introspection and the migrator, which takes its lock with a write on every run.
 * Anything else (no table yet, a pending or an unknown migration) is left to the full path.
 */
async function isCurrent(db: Kysely<any>, known: string[]): Promise<boolean> {
  let applied: string[]
  try {
    const rows = await db.selectFrom(MIGRATION_TABLE).select('name').execute()
    applied = rows.map((row: { name: string }) => row.name).sort()
  } catch {
    // Typically no migration table yet; the full path reports whatever else it was.
    return false
  }
  const expected = [...known].sort()
  return applied.length === expected.length && applied.every((name, i) => name === expected[i])
}

/**
 * Refuses a database that already holds another application's tables: adding ours to it
 * would mix two programs' data in one file.
 */
async function assertOwnDatabase(db: Kysely<any>): Promise<void> {
  const tables = await db.introspection.getTables()
  if (tables.length === 0 || tables.some((table) => table.name === MIGRATION_TABLE)) return
  throw new CryptorgError(
    'ERR_STORAGE',
    'the database holds tables of another application (no cryptorg_migrations table); ' +
      'choose another database path',
  )
}
