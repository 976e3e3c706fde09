/**
 * Which backend the suite runs on. The `sqlite` project uses files and `:memory:` as written in
 * the tests; the `postgres` project (run when CRYPTORG_TEST_PG names a database) gives every
 * database a test opens a schema of its own in that database, so the same tests run unchanged.
 *
 * @module
 */
import { createHash, randomUUID } from 'node:crypto'
import { resolve } from 'node:path'

import type { Kysely } from 'kysely'
import pg from 'pg'

import { connect } from '../../src/db/connect.js'
import { parseDatabaseLocation } from '../../src/db/location.js'
import { migrateToLatest } from '../../src/db/migrate.js'
import { typeParsers } from '../../src/db/postgres.js'
import type { Database } from '../../src/db/schema.js'

export type TestBackend = 'sqlite' | 'postgres'

export const TEST_BACKEND: TestBackend =
  process.env['CRYPTORG_TEST_BACKEND'] === 'postgres' ? 'postgres' : 'sqlite'

/** The database the Postgres project works in (CRYPTORG_TEST_PG). */
export function testPgUrl(): string {
  const url = process.env['CRYPTORG_TEST_PG']
  if (!url) throw new Error('CRYPTORG_TEST_PG is not set')
  return url
}

/** Prefix of every schema the suite creates, so that cleaning up touches nothing else. */
export const TEST_SCHEMA_PREFIX = 'cgt_'

/**
 * This run's part of the schema names (set by vitest.config.ts): runs side by side on one
 * database clean up only their own schemas. It is the run's start time in base 36.
 */
export function testRunId(): string {
  return process.env['CRYPTORG_TEST_RUN'] ?? 'adhoc'
}

/**
 * The schema standing in for a SQLite location: the same file path always maps to the same
 * schema (a test that reopens a file, or hands it to a child process, sees the same data);
 * `:memory:` gets a new one each time, as SQLite would give a new empty database.
 */
export function schemaFor(location: string): string {
  const prefix = `${TEST_SCHEMA_PREFIX}${testRunId()}_`
  if (location === ':memory:') return prefix + randomUUID().replaceAll('-', '').slice(0, 24)
  const digest = createHash('sha256').update(resolve(location)).digest('hex').slice(0, 24)
  return prefix + digest
}

/** A URL for the test database whose connections work in `schema`. */
export function urlForSchema(schema: string): string {
  const url = new URL(testPgUrl())
  url.searchParams.set('options', `-c search_path=${schema}`)
  return url.href
}

let adminPool: pg.Pool | undefined
const created = new Set<string>()

function pool(): pg.Pool {
  adminPool ??= new pg.Pool({
    connectionString: testPgUrl(),
    max: 2,
    idleTimeoutMillis: 1000,
    allowExitOnIdle: true,
  })
  return adminPool
}

/** Creates the schema if this process has not yet done so. */
export async function ensureSchema(schema: string): Promise<void> {
  if (created.has(schema)) return
  await pool().query(`create schema if not exists "${schema}"`)
  created.add(schema)
}

/** The Postgres URL for a SQLite location, with its schema created. */
export async function postgresFor(location: string): Promise<string> {
  const schema = schemaFor(location)
  await ensureSchema(schema)
  return urlForSchema(schema)
}

const readers = new Map<string, pg.Pool>()

/** Runs one query in the schema standing for `location`, on a connection of the suite's own. */
export async function queryPostgres<T>(
  location: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const url = urlForSchema(schemaFor(location))
  let reader = readers.get(url)
  if (!reader) {
    reader = new pg.Pool({
      connectionString: url,
      types: typeParsers,
      max: 1,
      idleTimeoutMillis: 1000,
      allowExitOnIdle: true,
    })
    readers.set(url, reader)
  }
  return (await reader.query(text, params)).rows as T[]
}

/** Runs older than this are taken for crashed ones, and their schemas dropped. */
const STALE_RUN_MS = 6 * 60 * 60 * 1000

/**
 * Drops the schemas of this run, and those of runs that started long ago and never cleaned
 * up (a run killed halfway). Another run going on at the same time keeps its schemas.
 */
export async function dropTestSchemas(now = Date.now()): Promise<number> {
  const client = new pg.Client({ connectionString: testPgUrl() })
  await client.connect()
  try {
    const { rows } = await client.query<{ name: string }>(
      'select nspname as name from pg_namespace where nspname like $1',
      [`${TEST_SCHEMA_PREFIX}%`],
    )
    const doomed = rows
      .map((row) => row.name)
      .filter((name) => {
        const run = name.slice(TEST_SCHEMA_PREFIX.length).split('_')[0] ?? ''
        if (run === testRunId()) return true
        // Made outside a vitest run (a script, a helper): left to whoever made them.
        if (run === 'adhoc') return false
        const started = Number.parseInt(run, 36)
        return !Number.isFinite(started) || now - started > STALE_RUN_MS
      })
    for (const name of doomed) await client.query(`drop schema "${name}" cascade`)
    return doomed.length
  } finally {
    await client.end()
  }
}

/** The database a test's file path stands for on this project: the path, or its schema's URL. */
export async function testLocation(path: string): Promise<string> {
  return TEST_BACKEND === 'postgres' ? postgresFor(path) : path
}

/**
 * A bare kysely connection to the database standing for `path` (`:memory:` for a fresh one),
 * with the schema migrated: for tests of modules below open().
 */
export async function migratedTestDb(path = ':memory:'): Promise<Kysely<Database>> {
  const { db, dialect } = connect(parseDatabaseLocation(await testLocation(path)))
  await migrateToLatest(db, dialect.name)
  return db
}

/** A second, unmigrated connection to the same database. */
export async function secondConnection(path: string): Promise<Kysely<Database>> {
  return connect(parseDatabaseLocation(await testLocation(path))).db
}
