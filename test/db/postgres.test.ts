/**
 * What only Postgres has: native column types, exact numerics through `pg`, the write lock
 * that stands in for SQLite's BEGIN IMMEDIATE, concurrent migration, timeouts. The rest of the
 * suite runs on Postgres too, in the postgres project.
 */
import { sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'

import { type OpenedDatabase, connect } from '../../src/db/connect.js'
import { parseDatabaseLocation } from '../../src/db/location.js'
import { schemaStatus } from '../../src/db/migrate.js'
import { withStorageErrors } from '../../src/db/storage-errors.js'
import { open } from '../../src/index.js'
import {
  TEST_BACKEND,
  ensureSchema,
  postgresFor,
  schemaFor,
  urlForSchema,
} from '../helpers/backend.js'
import { FAST_HASHING } from '../helpers/cli.js'
import { noNetworkFetch } from '../helpers/open-test-db.js'

const onPostgres = TEST_BACKEND === 'postgres'
const opened: OpenedDatabase[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.db.destroy()))
})

function connectTo(url: string, statementTimeoutMs?: number): OpenedDatabase {
  const db = connect(parseDatabaseLocation(url), {
    postgres: statementTimeoutMs === undefined ? {} : { statementTimeoutMs },
  })
  opened.push(db)
  return db
}

describe.skipIf(!onPostgres)('on Postgres (skipped unless CRYPTORG_TEST_PG is set)', () => {
  it('creates native types, foreign keys and byte-order text', async () => {
    const url = await postgresFor(':memory:')
    const c = await open({ database: url, fetch: noNetworkFetch })
    await c.close()
    const db = connectTo(url).db
    const { rows } = await sql<{ table_name: string; column_name: string; type: string }>`
      select table_name, column_name,
        format_type(a.atttypid, a.atttypmod) as type
      from information_schema.columns c
      join pg_catalog.pg_attribute a
        on a.attrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass
       and a.attname = c.column_name
      where c.table_schema = current_schema()
    `.execute(db)
    const typeOf = (table: string, column: string) =>
      rows.find((r) => r.table_name === table && r.column_name === column)?.type
    expect(typeOf('crypto_prices', 'price')).toBe('numeric(20,10)')
    expect(typeOf('crypto_prices', 'timestamp')).toBe('timestamp with time zone')
    expect(typeOf('crypto_prices', 'id')).toBe('bigint')
    expect(typeOf('organizations', 'id')).toBe('uuid')
    expect(typeOf('memberships', 'user_id')).toBe('uuid')
    expect(typeOf('auth_sessions', 'expires_at')).toBe('timestamp with time zone')

    const { rows: keys } = await sql<{ name: string }>`
      select conrelid::regclass::text || '->' || confrelid::regclass::text as name
      from pg_catalog.pg_constraint
      where contype = 'f' and connamespace = current_schema()::regnamespace
      order by 1
    `.execute(db)
    expect(keys.map((k) => k.name)).toEqual([
      'auth_sessions->users',
      'crypto_prices->organizations',
      'memberships->organizations',
      'memberships->users',
    ])
    const { rows: collations } = await sql<{ collation: string }>`
      select collation_name as collation from information_schema.columns
      where table_schema = current_schema() and table_name = 'organizations'
        and column_name = 'name_key'
    `.execute(db)
    expect(collations[0]?.collation).toBe('C')
  })

  it('keeps prices exact from input to numeric(20,10) and back, as strings', async () => {
    const c = await open({
      database: await postgresFor(':memory:'),
      fetch: noNetworkFetch,
      passwordHashing: FAST_HASHING,
    })
    try {
      const org = await c.system.orgs.create('Acme')
      const extremes = ['9999999999.9999999999', '0.0000000001', '12345678.9']
      for (const price of extremes) {
        await c.system.prices.add({ org: org.id, symbol: 'BTC', price })
      }
      const listed = await c.system.prices.list({ org: org.id })
      listed.results.sort((a, b) => a.id - b.id)
      expect(listed.results.map((p) => p.price)).toEqual([
        '9999999999.9999999999',
        '0.0000000001',
        '12345678.9000000000',
      ])
      expect(typeof listed.results[0]?.id).toBe('number')
      expect(listed.results[0]?.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    } finally {
      await c.close()
    }
  })

  it('lets several processes open a new schema at once: one migrates, all agree', async () => {
    const url = await postgresFor(':memory:')
    const all = await Promise.all(
      Array.from({ length: 4 }, () => open({ database: url, fetch: noNetworkFetch })),
    )
    await Promise.all(all.map((c) => c.close()))
    const status = await schemaStatus(connectTo(url).db, 'postgres')
    expect(status.pending).toEqual([])
    const { rows } = await sql<{
      n: number
    }>`select count(*) as n from cryptorg_migrations`.execute(connectTo(url).db)
    expect(Number(rows[0]?.n)).toBe(status.migrations.length)
  })

  it('serializes write transactions of one installation across connections', async () => {
    const url = await postgresFor(':memory:')
    await (await open({ database: url, fetch: noNetworkFetch })).close()
    const [one, two] = [connectTo(url).db, connectTo(url).db]
    const events: string[] = []
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let entered!: () => void
    const inFirst = new Promise<void>((resolve) => (entered = resolve))

    const first = one.transaction().execute(async () => {
      events.push('first in')
      entered()
      await held
      events.push('first out')
    })
    await inFirst
    const second = two.transaction().execute(async () => {
      events.push('second in')
    })
    // The second waits on the first's lock, however long the first takes.
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(events).toEqual(['first in'])
    release()
    await Promise.all([first, second])
    expect(events).toEqual(['first in', 'first out', 'second in'])
  })

  it('does not serialize two installations in separate schemas', async () => {
    const [a, b] = [await postgresFor(':memory:'), await postgresFor(':memory:')]
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const first = connectTo(a)
      .db.transaction()
      .execute(() => held)
    await connectTo(b)
      .db.transaction()
      .execute(async () => undefined)
    release()
    await first
  })

  it('reports a statement over the timeout as ERR_STORAGE', async () => {
    const url = await postgresFor(':memory:')
    const db = connectTo(url, 50).db
    await expect(
      withStorageErrors('slow', () => sql`select pg_sleep(2)`.execute(db)),
    ).rejects.toMatchObject({
      code: 'ERR_STORAGE',
      message: expect.stringMatching(/^slow: canceling statement due to statement timeout/),
    })
  })

  it('names a search_path without a schema instead of writing elsewhere', async () => {
    const schema = schemaFor(':memory:')
    const url = urlForSchema(schema) // never created
    await expect(open({ database: url, fetch: noNetworkFetch })).rejects.toMatchObject({
      code: 'ERR_STORAGE',
      message: expect.stringMatching(/has no current schema: its search_path names no schema/),
    })
    await ensureSchema(schema)
    await (await open({ database: url, fetch: noNetworkFetch })).close()
  })
})
