/**
 * Everything that differs between the SQL dialects cryptorg runs on lives here, so the
 * services can stay dialect-neutral kysely. Only SQLite is wired today; the Postgres values are
 * the column types its migrations will need.
 *
 * @module
 */
export type DialectName = 'sqlite'

/** Column types used by the migrations, per dialect. */
export interface ColumnTypes {
  uuid: 'text' | 'uuid'
  decimal: 'text' | 'numeric(20, 10)'
  timestamp: 'text' | 'timestamptz'
}

const SQLITE_TYPES: ColumnTypes = {
  uuid: 'text',
  // TEXT affinity keeps SQLite from turning a decimal string into a lossy REAL.
  decimal: 'text',
  // ISO-8601 strings with fixed width sort in time order.
  timestamp: 'text',
}

export function columnTypesFor(dialect: DialectName): ColumnTypes {
  switch (dialect) {
    case 'sqlite':
      return SQLITE_TYPES
  }
}

/** Encodes a moment for storage: fixed-width ISO-8601 UTC with milliseconds. */
export function encodeTimestamp(moment: Date): string {
  return moment.toISOString()
}

/** True when a database error is a violated unique constraint. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}
