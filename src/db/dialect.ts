/**
 * Everything that differs between the SQL dialects cryptorg runs on lives here, so the
 * services can stay dialect-neutral kysely: column types, the few places where a bare
 * parameter needs its type spelled out, listing the installation's tables and recognizing
 * constraint errors.
 *
 * @module
 */
import { type ColumnDefinitionBuilder, type Kysely, type RawBuilder, sql } from 'kysely'

export type DialectName = 'sqlite' | 'postgres'

/** Column types used by the migrations, per dialect. */
export interface ColumnTypes {
  uuid: 'text' | 'uuid'
  decimal: 'text' | 'numeric(20, 10)'
  timestamp: 'text' | 'timestamptz'
  /**
   * Text that is sorted or compared for uniqueness (names, symbols). Postgres compares it
   * byte by byte, as SQLite does, so both list things in the same order whatever the
   * server's locale.
   */
  key: 'text' | RawBuilder<unknown>
  /** The type of a generated integer key. */
  serial: 'integer' | 'bigint'
  /** Makes `column` a primary key numbered by the database. */
  generatedKey(column: ColumnDefinitionBuilder): ColumnDefinitionBuilder
}

const SQLITE_TYPES: ColumnTypes = {
  uuid: 'text',
  // TEXT affinity keeps SQLite from turning a decimal string into a lossy REAL.
  decimal: 'text',
  // ISO-8601 strings with fixed width sort in time order.
  timestamp: 'text',
  key: 'text',
  serial: 'integer',
  generatedKey: (column) => column.primaryKey().autoIncrement(),
}

const POSTGRES_TYPES: ColumnTypes = {
  uuid: 'uuid',
  decimal: 'numeric(20, 10)',
  timestamp: 'timestamptz',
  key: sql`text collate "C"`,
  serial: 'bigint',
  // "By default" rather than "always": `db copy` inserts rows with the ids they already have.
  generatedKey: (column) => column.primaryKey().generatedByDefaultAsIdentity(),
}

export function columnTypesFor(dialect: DialectName): ColumnTypes {
  switch (dialect) {
    case 'sqlite':
      return SQLITE_TYPES
    case 'postgres':
      return POSTGRES_TYPES
  }
}

/** What the services need to know about the dialect they run on. */
export interface Dialect {
  readonly name: DialectName
  /**
   * A parameter whose type Postgres cannot infer (in a SELECT list feeding an INSERT it would
   * be text), cast to the column type it is written to. SQLite takes the bare parameter.
   */
  typed<T>(value: T, type: 'decimal' | 'timestamp'): RawBuilder<T>
}

function createDialect(name: DialectName): Dialect {
  const types = columnTypesFor(name)
  return Object.freeze({
    name,
    typed<T>(value: T, type: 'decimal' | 'timestamp'): RawBuilder<T> {
      if (name === 'sqlite') return sql<T>`${value}`
      return sql<T>`cast(${value} as ${sql.raw(types[type])})`
    },
  })
}

export const SQLITE_DIALECT = createDialect('sqlite')
export const POSTGRES_DIALECT = createDialect('postgres')

export function dialectFor(name: DialectName): Dialect {
  return name === 'sqlite' ? SQLITE_DIALECT : POSTGRES_DIALECT
}

/**
 * Names of the tables of this installation: the whole file on SQLite, the current schema on
 * Postgres (other schemas of the same database may hold other installations or applications).
 */
// Kysely<any>: called before migrations, when the tables may not match the current schema.
export async function listTables(db: Kysely<any>, dialect: DialectName): Promise<string[]> {
  if (dialect === 'sqlite') {
    // Names only, as kysely's introspector lists them; it would also read every table's columns
    // (a query per open of every command, for nothing).
    const { rows } = await sql<{ name: string }>`
      select name from sqlite_master
      where type in ('table', 'view') and substr(name, 1, 7) <> 'sqlite_'
      order by name
    `.execute(db)
    return rows.map((row) => row.name)
  }
  // pg_catalog rather than information_schema: its views are slow on a busy catalogue.
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relkind in ('r', 'p', 'v', 'm', 'f')
  `.execute(db)
  return rows.map((row) => row.name)
}

/** Encodes a moment for storage: fixed-width ISO-8601 UTC with milliseconds. */
export function encodeTimestamp(moment: Date): string {
  return moment.toISOString()
}

/** True when a database error is a violated unique constraint. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    // Postgres: unique_violation.
    code === '23505'
  )
}
