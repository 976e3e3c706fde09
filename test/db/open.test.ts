import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import Database from 'better-sqlite3'
import { Kysely, Migrator, SqliteDialect } from 'kysely'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { MIGRATION_TABLE } from '../../src/db/migrate.js'
import { migrationsFor } from '../../src/db/migrations/index.js'
import { open } from '../../src/index.js'
import { fakeClock } from '../helpers/fake-clock.js'
import { noNetworkFetch, openTestDb, tempDir } from '../helpers/open-test-db.js'

let dir: ReturnType<typeof tempDir>
let dbPath: string

beforeEach(() => {
  dir = tempDir()
  dbPath = join(dir.path, 'prices.db')
})

afterEach(() => {
  dir.remove()
})

const LOOPBACK = 'http://127.0.0.1:9/api/v3'

const openFile = (path = dbPath) =>
  openTestDb({ databasePath: path, clock: fakeClock('2024-09-17T12:00:00.000Z') })

/** Reads the database with a separate raw connection, closed before returning. */
function inspect<T>(read: (db: Database.Database) => T): T {
  const db = new Database(dbPath, { readonly: true })
  try {
    return read(db)
  } finally {
    db.close()
  }
}

describe('open with a database file', () => {
  it('creates the file with its schema when it does not exist', async () => {
    const c = await openFile()
    await c.close()
    const tables = inspect((db) =>
      db.prepare("select name from sqlite_master where type = 'table' order by name").pluck().all(),
    )
    expect(tables).toEqual(
      expect.arrayContaining(['crypto_prices', MIGRATION_TABLE, 'organizations', 'tracked_coins']),
    )
  })

  it('keeps organizations, prices and tracked coins across close and open', async () => {
    const first = await openFile()
    const acme = await first.system.orgs.create('Acme')
    const price = await first.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '45000.5' })
    await first.system.coins.track({ symbol: 'SOL', coinId: 'solana' })
    await first.system.coins.untrack('ETH')
    await first.close()

    const second = await openFile()
    try {
      expect(await second.system.orgs.list()).toEqual([acme])
      expect(await second.system.prices.latest('acme')).toEqual([price])
      expect((await second.system.coins.list()).map((coin) => coin.symbol)).toEqual(['BTC', 'SOL'])
    } finally {
      await second.close()
    }
  })

  it('records the migration once and does not run it again on re-opening', async () => {
    await (await openFile()).close()
    const recorded = () =>
      inspect((db) => db.prepare(`select name from ${MIGRATION_TABLE}`).pluck().all())
    expect(recorded()).toEqual(['0001-init', '0002-daemon', '0003-auth'])

    const again = await openFile()
    // Re-running the seed migration would bring the untracked default coins back.
    await again.system.coins.untrack('BTC')
    await again.close()
    const third = await openFile()
    expect((await third.system.coins.list()).map((coin) => coin.symbol)).toEqual(['ETH'])
    await third.close()
    expect(recorded()).toEqual(['0001-init', '0002-daemon', '0003-auth'])
  })

  it('opens a current database while another connection holds the write lock', async () => {
    await (await openFile()).close()
    const writer = new Database(dbPath)
    writer.exec('begin immediate')
    try {
      // Opening needs no write when nothing is pending: it does not wait for the lock
      // (which would fail after the 5 s busy timeout).
      const started = Date.now()
      const c = await openFile()
      expect(await c.system.orgs.list()).toEqual([])
      await c.close()
      expect(Date.now() - started).toBeLessThan(4000)
    } finally {
      writer.exec('rollback')
      writer.close()
    }
  })

  it('applies the migrations that a database of an older cryptorg lacks', async () => {
    const all = migrationsFor('sqlite')
    const older = Object.fromEntries(Object.entries(all).slice(0, -1))
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(dbPath) }) })
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => older },
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: `${MIGRATION_TABLE}_lock`,
    })
    expect((await migrator.migrateToLatest()).error).toBeUndefined()
    await db.destroy()

    const c = await openFile()
    await c.auth.bootstrap({ username: 'admin', password: 'a long enough password' })
    await c.close()
    const recorded = inspect((raw) =>
      raw.prepare(`select name from ${MIGRATION_TABLE} order by name`).pluck().all(),
    )
    expect(recorded).toEqual(Object.keys(all))
  })

  it('puts the database in WAL mode with foreign keys enforced', async () => {
    const c = await openFile()
    await c.system.orgs.create('Acme')
    await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '1' })
    await c.system.orgs.delete('Acme')
    await c.close()
    expect(inspect((db) => db.pragma('journal_mode', { simple: true }))).toBe('wal')
    expect(inspect((db) => db.prepare('select count(*) from crypto_prices').pluck().get())).toBe(0)
  })

  it('stores prices as exact text, never as floating point numbers', async () => {
    const c = await openFile()
    await c.system.orgs.create('Acme')
    await c.system.prices.add({ org: 'Acme', symbol: 'BTC', price: '0.1000000001' })
    await c.close()
    const row = inspect((db) =>
      db.prepare('select price, typeof(price) as type from crypto_prices').get(),
    )
    expect(row).toEqual({ price: '0.1000000001', type: 'text' })
  })

  it('can be closed more than once, also through Symbol.asyncDispose', async () => {
    const c = await openFile()
    await c.close()
    await expect(c.close()).resolves.toBeUndefined()
    await expect(c[Symbol.asyncDispose]()).resolves.toBeUndefined()
  })

  it('returns ERR_STORAGE naming the directory when it does not exist', async () => {
    const missing = join(dir.path, 'no-such-dir')
    await expect(openFile(join(missing, 'prices.db'))).rejects.toMatchObject({
      code: 'ERR_STORAGE',
      message: `database directory ${JSON.stringify(missing)} does not exist`,
    })
  })

  it('returns ERR_STORAGE when the path is a directory', async () => {
    await expect(openFile(dir.path)).rejects.toMatchObject({
      code: 'ERR_STORAGE',
      message: expect.stringContaining('is a directory'),
    })
  })

  it('returns ERR_STORAGE when the file is not a SQLite database', async () => {
    writeFileSync(dbPath, 'this is not a database, just some text\n'.repeat(200))
    await expect(openFile()).rejects.toMatchObject({
      code: 'ERR_STORAGE',
      message: expect.stringMatching(/not a database/),
    })
  })

  it('returns ERR_STORAGE when the file is a short text file', async () => {
    writeFileSync(dbPath, 'garbage')
    await expect(openFile()).rejects.toMatchObject({ code: 'ERR_STORAGE' })
  })

  it('returns ERR_STORAGE without touching a database from a newer cryptorg', async () => {
    await (await openFile()).close()
    const db = new Database(dbPath)
    db.prepare(`insert into ${MIGRATION_TABLE} (name, timestamp) values (?, ?)`).run(
      '9999-from-the-future',
      '2030-01-01T00:00:00.000Z',
    )
    db.close()

    await expect(openFile()).rejects.toMatchObject({
      code: 'ERR_STORAGE',
      message: 'database was created by a newer version of cryptorg; upgrade cryptorg to open it',
    })
    const count = inspect((db) =>
      db.prepare(`select count(*) from ${MIGRATION_TABLE}`).pluck().get(),
    )
    // Our three migrations plus the unknown newer one, and nothing added.
    expect(count).toBe(4)
  })
})

describe('open with a database of another application', () => {
  it('returns ERR_STORAGE and adds no cryptorg table to the file', async () => {
    const other = new Database(dbPath)
    other.exec('create table t(x)')
    other.prepare('insert into t (x) values (?)').run('kept')
    other.close()

    await expect(openFile()).rejects.toMatchObject({
      code: 'ERR_STORAGE',
      message: expect.stringContaining('another application'),
    })
    const names = inspect((db) =>
      db.prepare('select name from sqlite_master order by name').pluck().all(),
    )
    expect(names).toEqual(['t'])
    expect(inspect((db) => db.prepare('select x from t').pluck().all())).toEqual(['kept'])
  })

  it('opens an empty SQLite file and creates the cryptorg tables in it', async () => {
    new Database(dbPath).close()
    await (await openFile()).close()
    const names = inspect((db) =>
      db.prepare("select name from sqlite_master where type = 'table'").pluck().all(),
    )
    expect(names).toContain(MIGRATION_TABLE)
    expect(names).toContain('organizations')
  })
})

describe('open options', () => {
  it.each([
    [{ databasePath: '' }, 'database'],
    [{ database: 'mysql://db.example/x' }, 'database'],
    [{ database: 'postgres://127.0.0.1:5432' }, 'database'],
    [{ database: ':memory:', postgres: { poolSize: 0 } }, 'postgres.poolSize'],
    [{ databasePath: ':memory:', coingecko: { plan: 'gold' as 'pro' } }, 'plan'],
    [{ databasePath: ':memory:', coingecko: { plan: 'pro' as const } }, 'apiKey'],
    [{ databasePath: ':memory:', coingecko: { baseUrl: 'ftp://x' } }, 'baseUrl'],
    [{ databasePath: ':memory:', coingecko: { baseUrl: LOOPBACK, timeoutMs: 5 } }, 'timeoutMs'],
  ])('returns ERR_VALIDATION for %j', async (options, field) => {
    await expect(open({ fetch: noNetworkFetch, ...options })).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      details: { field },
    })
  })

  it('does not create the database file when the options are invalid', async () => {
    await expect(
      open({ databasePath: dbPath, fetch: noNetworkFetch, coingecko: { baseUrl: 'ftp://x' } }),
    ).rejects.toMatchObject({ code: 'ERR_VALIDATION' })
    expect(existsSync(dbPath)).toBe(false)
  })

  it('gives each in-memory database its own data', async () => {
    const a = await openTestDb()
    const b = await openTestDb()
    await a.system.orgs.create('Acme')
    expect(await b.system.orgs.list()).toEqual([])
    await a.close()
    await b.close()
  })
})
